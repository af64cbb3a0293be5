//! The peers of a meeting: join (within the participant limit and the lock), leave (by
//! choice, by disconnect, by a host, or with a dead node), media state, host actions.

use serde::Serialize;

use super::store_down;
use crate::backplane::meetings::{JoinRequest, Joined, PeerRecord};
use crate::backplane::Target;
use crate::domain::error::{AppError, AppResult};
use crate::domain::events::{MeetingMediaState, MeetingParticipantJoined, MeetingParticipantLeft};
use crate::domain::meeting::{IceServer, LeftReason, MediaPatch, Participant};
use crate::domain::time::now_ms;
use crate::domain::{permissions, Principal};
use crate::service::Chat;
use crate::storage::MeetingRow;

/// The `meeting-join` ack.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct JoinAck {
    pub meeting_id: String,
    pub peer_id: String,
    pub participants: Vec<Participant>,
    pub ice_servers: Vec<IceServer>,
}

pub fn not_in_meeting() -> AppError {
    AppError::new(403, "not_in_meeting", "join the room's meeting first")
}

pub fn peer_not_found() -> AppError {
    AppError::new(404, "peer_not_found", "no such peer in this meeting")
}

impl Chat {
    /// Before a `meeting-join`: the room's running meeting, and whether the caller hosts it.
    pub async fn meeting_to_join(
        &self,
        p: &Principal,
        room_id: &str,
    ) -> AppResult<(MeetingRow, bool)> {
        let (_, membership, row) = self.running(p, room_id).await?;
        self.rate.meeting_action(&p.user_id).await?;
        let host = permissions::is_meeting_host(p, membership, &row.started_by);
        Ok((row, host))
    }

    /// Adds the peer (its socket is already in the room's channels) and tells the room.
    pub async fn join_meeting(
        &self,
        p: &Principal,
        row: &MeetingRow,
        host: bool,
        peer_id: &str,
        audio: bool,
        video: bool,
    ) -> AppResult<JoinAck> {
        let now = now_ms();
        let peer = PeerRecord {
            peer_id: peer_id.to_string(),
            user_id: p.user_id.clone(),
            name: p.name.clone(),
            joined_at: now,
            audio,
            video,
            screen: false,
            hand_raised: false,
            node: self.node_id.clone(),
        };
        let joined = self
            .meetings
            .join(JoinRequest {
                room_id: &row.room_id,
                meeting_id: &row.id,
                peer: peer.clone(),
                max: self.limits.meeting.max_participants,
                host,
                now,
            })
            .await
            .map_err(store_down)?;
        let outcome = match &joined {
            Joined::Peers(_) => "joined",
            Joined::Full => "full",
            Joined::Locked => "locked",
        };
        metrics::counter!("classchat_meeting_joins_total", "outcome" => outcome).increment(1);
        let peers = match joined {
            Joined::Peers(peers) => peers,
            Joined::Full => {
                return Err(AppError::conflict(
                    "meeting_full",
                    format!(
                        "the meeting has its {} participants",
                        self.limits.meeting.max_participants
                    ),
                ))
            }
            Joined::Locked => {
                return Err(AppError::new(
                    403,
                    "meeting_locked",
                    "the meeting is locked",
                ))
            }
        };
        self.store
            .attendance_joined(&row.id, peer_id, &p.user_id, p.name.as_deref(), now)
            .await?;
        let participant = peer.participant();
        self.emit_except_peer(
            Target::Room(row.room_id.clone()),
            peer_id,
            &MeetingParticipantJoined {
                room_id: &row.room_id,
                meeting_id: &row.id,
                participant: &participant,
            },
        )
        .await;
        Ok(JoinAck {
            meeting_id: row.id.clone(),
            peer_id: peer_id.to_string(),
            participants: peers.iter().map(PeerRecord::participant).collect(),
            ice_servers: self.ice_servers(p).ice_servers,
        })
    }

    /// The ack of a repeated `meeting-join` from a socket whose peer is still in.
    pub async fn meeting_ack_again(
        &self,
        p: &Principal,
        row: &MeetingRow,
        peer_id: &str,
    ) -> AppResult<Option<JoinAck>> {
        let live = self
            .meetings
            .live(&row.room_id, &row.id)
            .await
            .map_err(store_down)?
            .unwrap_or_default();
        if !live.peers.iter().any(|x| x.peer_id == peer_id) {
            return Ok(None);
        }
        Ok(Some(JoinAck {
            meeting_id: row.id.clone(),
            peer_id: peer_id.to_string(),
            participants: live.peers.iter().map(PeerRecord::participant).collect(),
            ice_servers: self.ice_servers(p).ice_servers,
        }))
    }

    /// The peer leaves (once: a second leave of it finds nothing and tells nobody).
    pub async fn leave_meeting(
        &self,
        room_id: &str,
        meeting_id: &str,
        peer_id: &str,
        reason: LeftReason,
    ) -> AppResult<bool> {
        let now = now_ms();
        let gone = self
            .meetings
            .leave(room_id, meeting_id, peer_id, now)
            .await
            .map_err(store_down)?;
        let Some(gone) = gone else {
            return Ok(false);
        };
        self.peer_left(room_id, meeting_id, &gone, reason, now)
            .await;
        Ok(true)
    }

    async fn peer_left(
        &self,
        room_id: &str,
        meeting_id: &str,
        gone: &PeerRecord,
        reason: LeftReason,
        now: i64,
    ) {
        if let Err(e) = self
            .store
            .attendance_left(meeting_id, &gone.peer_id, now)
            .await
        {
            tracing::warn!(error = %e, "attendance leave not stored");
        }
        let label = match reason {
            LeftReason::Left => "left",
            LeftReason::Disconnected => "disconnected",
            LeftReason::Removed => "removed",
        };
        metrics::counter!("classchat_meeting_leaves_total", "reason" => label).increment(1);
        self.emit_except_peer(
            Target::Room(room_id.to_string()),
            &gone.peer_id,
            &MeetingParticipantLeft {
                room_id: room_id.to_string(),
                meeting_id: meeting_id.to_string(),
                peer_id: gone.peer_id.clone(),
                user_id: gone.user_id.clone(),
                reason,
            },
        )
        .await;
    }

    /// A member left the room or was removed: their peers leave its meeting (`removed`).
    pub(crate) async fn meeting_member_removed(&self, room_id: &str, user_id: &str) {
        let Ok(Some(row)) = self.store.running_meeting(room_id).await else {
            return;
        };
        let Ok(Some(live)) = self.meetings.live(room_id, &row.id).await else {
            return;
        };
        for peer in live.peers.iter().filter(|p| p.user_id == user_id) {
            if let Err(e) = self
                .leave_meeting(room_id, &row.id, &peer.peer_id, LeftReason::Removed)
                .await
            {
                tracing::warn!(error = %e, "removed member's peer not taken out of the meeting");
            }
        }
    }

    /// A node is gone (dead, or this node starting again): its peers leave, disconnected.
    pub(crate) async fn meeting_node_gone(&self, node: &str) {
        let now = now_ms();
        match self.meetings.drop_node(node, now).await {
            Ok(dropped) => {
                for d in dropped {
                    self.peer_left(
                        &d.room_id,
                        &d.meeting_id,
                        &d.peer,
                        LeftReason::Disconnected,
                        now,
                    )
                    .await;
                }
            }
            Err(e) => tracing::warn!(error = %e, node, "meeting peers of a gone node not dropped"),
        }
    }

    /// `meeting-media-state`: changes the peer's flags; the others are told.
    pub async fn meeting_media(
        &self,
        p: &Principal,
        room_id: &str,
        meeting_id: &str,
        peer_id: &str,
        patch: &MediaPatch,
    ) -> AppResult<Participant> {
        self.rate.meeting_action(&p.user_id).await?;
        let rec = self
            .meetings
            .update(room_id, meeting_id, peer_id, patch)
            .await
            .map_err(store_down)?
            .ok_or_else(not_in_meeting)?;
        let participant = rec.participant();
        self.emit_except_peer(
            Target::Room(room_id.to_string()),
            peer_id,
            &MeetingMediaState::of(room_id, &participant),
        )
        .await;
        Ok(participant)
    }
}
