//! Meetings of a room: start, see, end, and the history with attendance (REST), plus the
//! peers' joins, signals and host actions (`peers`, `signal`) and the upkeep that ends
//! empty meetings (`upkeep`). The meeting row is in the database; who is in it lives in
//! the backplane's meeting store.

mod host;
mod metrics_;
mod peers;
mod signal;
mod upkeep;

use crate::backplane::meetings::PeerRecord;
use crate::backplane::{Envelope, Payload, Target};
use crate::domain::error::{AppError, AppResult};
use crate::domain::events::{By, ChatNotification, MeetingEnded, MeetingStarted};
use crate::domain::meeting::{attendance, EndReason, IceServers, Meeting, PastMeeting};
use crate::domain::requests::StartMeeting;
use crate::domain::time::now_ms;
use crate::domain::{permissions, Principal, RoomRole, RoomSummary};
use crate::storage::MeetingRow;

pub use host::HostActionDone;
pub use metrics_::{describe_metrics, zero_metrics};
pub use peers::{not_in_meeting, JoinAck};
pub use signal::Relayed;
pub use upkeep::run as run_upkeep;

use super::{encode, Chat};

pub fn no_meeting() -> AppError {
    AppError::new(404, "no_meeting", "no meeting is running in this room")
}

/// The meeting store could not answer (Redis away).
fn store_down(e: String) -> AppError {
    tracing::warn!(error = %e, "meeting store unavailable");
    AppError::unavailable(
        "meetings_unavailable",
        "meetings are unavailable, retry later",
    )
}

fn meeting_of(row: &MeetingRow, locked: bool, peers: &[PeerRecord]) -> Meeting {
    Meeting {
        id: row.id.clone(),
        room_id: row.room_id.clone(),
        title: row.title.clone(),
        started_by: row.started_by.clone(),
        started_at: row.started_at,
        locked,
        participants: peers.iter().map(PeerRecord::participant).collect(),
    }
}

/// Meeting-list cursors are `"<started ms>:<meeting id>"`.
fn parse_cursor(c: &str) -> AppResult<(i64, String)> {
    super::rooms::parse_cursor(c)
}

impl Chat {
    /// The room (if the caller may see it), the caller's membership, and its running meeting.
    pub(super) async fn running(
        &self,
        p: &Principal,
        room_id: &str,
    ) -> AppResult<(RoomSummary, Option<RoomRole>, MeetingRow)> {
        let (room, membership) = self.access(p, room_id).await?;
        let row = self
            .store
            .running_meeting(room_id)
            .await?
            .ok_or_else(no_meeting)?;
        Ok((room, membership, row))
    }

    /// `POST …/meeting`: starts the room's meeting, or returns the running one
    /// (`true` when this call started it).
    pub async fn start_meeting(
        &self,
        p: &Principal,
        room_id: &str,
        req: StartMeeting,
    ) -> AppResult<(Meeting, bool)> {
        let title = req.title()?;
        let (room, membership) = self.access(p, room_id).await?;
        if !permissions::can_start_meeting(p, room.kind, membership) {
            return Err(AppError::forbidden(
                "in a group room, teachers, the room's owner or admins start meetings",
            ));
        }
        self.rate.meeting_action(&p.user_id).await?;
        let now = now_ms();
        let new = MeetingRow {
            id: super::rooms::new_id(),
            room_id: room_id.to_string(),
            title,
            started_by: p.user_id.clone(),
            started_at: now,
            ended_at: None,
            ended_by: None,
            end_reason: None,
        };
        let (row, started) = self.store.start_meeting(&new).await?;
        if !started {
            return Ok((self.meeting_now(&row).await?, false));
        }
        self.meetings
            .open(room_id, &row.id, now)
            .await
            .map_err(store_down)?;
        let meeting = meeting_of(&row, false, &[]);
        metrics::counter!("classchat_meetings_started_total").increment(1);
        self.emit(
            Target::Room(room_id.to_string()),
            None,
            &MeetingStarted {
                room_id,
                meeting: &meeting,
            },
        )
        .await;
        let note = ChatNotification::MeetingStarted {
            room: &room,
            meeting: &meeting,
            by: By::of(p),
        };
        let packet = encode(&note);
        metrics::counter!("classchat_events_emitted_total", "event" => "chat-notification")
            .increment(1);
        for m in self.store.members(room_id).await? {
            self.backplane
                .publish(Envelope {
                    target: Target::User(m.user_id),
                    except_user: None,
                    except_peer: None,
                    payload: Payload::Packet {
                        packet: packet.clone(),
                        seq: None,
                    },
                })
                .await;
        }
        self.webhook_meeting(p, &room, &meeting).await;
        Ok((meeting, true))
    }

    /// The running meeting with who is in it now.
    async fn meeting_now(&self, row: &MeetingRow) -> AppResult<Meeting> {
        let live = self
            .meetings
            .live(&row.room_id, &row.id)
            .await
            .map_err(store_down)?
            .unwrap_or_default();
        Ok(meeting_of(row, live.locked, &live.peers))
    }

    /// `GET …/meeting`.
    pub async fn get_meeting(&self, p: &Principal, room_id: &str) -> AppResult<Meeting> {
        let (_, _, row) = self.running(p, room_id).await?;
        self.meeting_now(&row).await
    }

    /// `DELETE …/meeting`: hosts end the meeting for everyone.
    pub async fn end_meeting(&self, p: &Principal, room_id: &str) -> AppResult<MeetingEnded> {
        let (_, membership, row) = self.running(p, room_id).await?;
        if !permissions::is_meeting_host(p, membership, &row.started_by) {
            return Err(AppError::forbidden(
                "the meeting's starter, the room's owner or admins end meetings",
            ));
        }
        self.finish(&row, Some(&p.user_id), EndReason::Ended)
            .await?
            .ok_or_else(no_meeting)
    }

    /// Ends the meeting once (whoever gets there first), forgets its peers and tells
    /// the room.
    pub(super) async fn finish(
        &self,
        row: &MeetingRow,
        by: Option<&str>,
        reason: EndReason,
    ) -> AppResult<Option<MeetingEnded>> {
        let now = now_ms();
        if !self
            .store
            .end_meeting(&row.id, by, reason.as_str(), now)
            .await?
        {
            return Ok(None);
        }
        if let Err(e) = self.meetings.close(&row.room_id, &row.id).await {
            // The next meeting of the room starts from a clean record anyway.
            tracing::warn!(error = %e, "meeting store not cleared");
        }
        metrics::counter!("classchat_meetings_ended_total", "reason" => reason.as_str())
            .increment(1);
        let ended = MeetingEnded {
            room_id: row.room_id.clone(),
            meeting_id: row.id.clone(),
            ended_by: by.map(str::to_string),
            reason,
        };
        self.emit(Target::Room(row.room_id.clone()), None, &ended)
            .await;
        Ok(Some(ended))
    }

    /// `GET …/meetings`: the room's meetings, newest first, each with its attendance
    /// (only the caller's own line unless they see everyone's).
    pub async fn meeting_history(
        &self,
        p: &Principal,
        room_id: &str,
        limit: i64,
        cursor: Option<&str>,
    ) -> AppResult<(Vec<PastMeeting>, Option<String>)> {
        let (_, membership) = self.access(p, room_id).await?;
        let cursor = match cursor.filter(|c| !c.is_empty()) {
            Some(c) => Some(parse_cursor(c)?),
            None => None,
        };
        let rows = self.store.list_meetings(room_id, limit + 1, cursor).await?;
        let more = rows.len() as i64 > limit;
        let rows: Vec<MeetingRow> = rows.into_iter().take(limit as usize).collect();
        let only = (!permissions::sees_all_attendance(p, membership)).then_some(p.user_id.as_str());
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let stints = self.store.stints(&ids, only).await?;
        let now = now_ms();
        let next = more
            .then(|| {
                rows.last()
                    .map(|r| super::format_cursor(r.started_at, &r.id))
            })
            .flatten();
        let page = rows
            .into_iter()
            .map(|r| {
                let mine: Vec<_> = stints
                    .iter()
                    .filter(|(m, _)| *m == r.id)
                    .map(|(_, s)| s.clone())
                    .collect();
                PastMeeting {
                    attendance: attendance(&mine, r.ended_at.unwrap_or(now)),
                    id: r.id,
                    room_id: r.room_id,
                    title: r.title,
                    started_by: r.started_by,
                    started_at: r.started_at,
                    ended_at: r.ended_at,
                    ended_by: r.ended_by,
                    end_reason: r.end_reason,
                }
            })
            .collect();
        Ok((page, next))
    }

    /// `GET /chat/meetings/ice-servers`.
    pub fn ice_servers(&self, p: &Principal) -> IceServers {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.ice.servers(&p.user_id, now)
    }
}
