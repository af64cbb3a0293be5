//! `meeting-host-action`: what the meeting's hosts (its starter, the room's owner and
//! room admins, admins) may do to a peer (mute request, lower hand, remove) or to the
//! meeting (lock, unlock).

use serde::Serialize;

use super::peers::{not_in_meeting, peer_not_found};
use super::store_down;
use crate::backplane::Target;
use crate::domain::error::{AppError, AppResult};
use crate::domain::events::{MeetingHostActionTaken, MeetingMediaState};
use crate::domain::meeting::{HostAction, LeftReason, MediaPatch};
use crate::domain::requests::MeetingHostActionReq;
use crate::domain::{permissions, Principal};
use crate::service::Chat;

/// The `meeting-host-action` ack.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct HostActionDone {
    pub room_id: String,
    pub action: HostAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_id: Option<String>,
}

impl Chat {
    /// `meeting-host-action` by the peer `own` of the caller.
    pub async fn meeting_host_action(
        &self,
        p: &Principal,
        meeting_id: &str,
        own: &str,
        req: MeetingHostActionReq,
    ) -> AppResult<HostActionDone> {
        let (_, membership, row) = self.running(p, &req.room_id).await?;
        if row.id != meeting_id {
            return Err(not_in_meeting());
        }
        let room_id = row.room_id.clone();
        let store = &self.meetings;
        if store
            .peer(&room_id, &row.id, own)
            .await
            .map_err(store_down)?
            .is_none()
        {
            return Err(not_in_meeting());
        }
        if !permissions::is_meeting_host(p, membership, &row.started_by) {
            return Err(AppError::forbidden(
                "only the meeting's hosts (its starter, the room's owner or admins) do that",
            ));
        }
        self.rate.meeting_action(&p.user_id).await?;
        let taken = |action| MeetingHostActionTaken {
            room_id: room_id.clone(),
            action,
            by: p.user_id.clone(),
        };
        let done = HostActionDone {
            room_id: room_id.clone(),
            action: req.action,
            peer_id: req.peer_id.clone(),
        };
        if !req.action.targets_peer() {
            let locked = req.action == HostAction::Lock;
            store
                .set_locked(&room_id, &row.id, locked)
                .await
                .map_err(store_down)?;
            self.emit(Target::Room(room_id.clone()), None, &taken(req.action))
                .await;
            return Ok(done);
        }
        let target_id = req.peer_id.as_deref().ok_or_else(|| {
            AppError::bad_request("invalid_payload", "this action needs the peerId it is for")
        })?;
        let target = store
            .peer(&room_id, &row.id, target_id)
            .await
            .map_err(store_down)?
            .ok_or_else(peer_not_found)?;
        let to_peer = Target::Peer {
            user: target.user_id.clone(),
            peer: target.peer_id.clone(),
        };
        match req.action {
            HostAction::LowerHand => {
                let patch = MediaPatch {
                    hand_raised: Some(false),
                    ..MediaPatch::default()
                };
                if let Some(rec) = store
                    .update(&room_id, &row.id, target_id, &patch)
                    .await
                    .map_err(store_down)?
                {
                    let participant = rec.participant();
                    let state = MeetingMediaState::of(&room_id, &participant);
                    self.emit(Target::Room(room_id.clone()), None, &state).await;
                }
                self.emit(to_peer, None, &taken(req.action)).await;
            }
            HostAction::Remove => {
                self.emit(to_peer, None, &taken(req.action)).await;
                self.leave_meeting(&room_id, &row.id, target_id, LeftReason::Removed)
                    .await?;
            }
            _ => self.emit(to_peer, None, &taken(req.action)).await,
        }
        Ok(done)
    }
}
