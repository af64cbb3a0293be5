//! `meeting-signal`: an offer, answer or ICE candidate relayed to the one peer it is for,
//! on whatever node, through that peer's user channel (never the room's).

use serde::Serialize;

use super::peers::not_in_meeting;
use super::store_down;
use crate::backplane::Target;
use crate::domain::error::{AppError, AppResult};
use crate::domain::events::MeetingSignal;
use crate::domain::requests::MeetingSignalReq;
use crate::domain::Principal;
use crate::service::Chat;

/// The `meeting-signal` ack.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Relayed {
    pub room_id: String,
    pub to: String,
}

fn count(outcome: &'static str) {
    metrics::counter!("classchat_meeting_signals_total", "outcome" => outcome).increment(1);
}

impl Chat {
    /// Relays a signal from the caller's peer `from` of meeting `meeting_id`.
    pub async fn meeting_signal(
        &self,
        p: &Principal,
        meeting_id: &str,
        from: &str,
        req: MeetingSignalReq,
    ) -> AppResult<Relayed> {
        let outcome = self.relay_signal(p, meeting_id, from, &req).await;
        match &outcome {
            Ok(()) => count("relayed"),
            Err(e) => count(match e.code {
                "peer_not_found" => "peer_not_found",
                "not_in_meeting" => "not_in_meeting",
                "payload_too_large" => "too_large",
                "rate_limited" => "rate_limited",
                "meetings_unavailable" => "unavailable",
                _ => "invalid",
            }),
        }
        outcome.map(|()| Relayed {
            room_id: req.room_id,
            to: req.to,
        })
    }

    async fn relay_signal(
        &self,
        p: &Principal,
        meeting_id: &str,
        from: &str,
        req: &MeetingSignalReq,
    ) -> AppResult<()> {
        self.rate.signal(&p.user_id).await?;
        req.validate(self.limits.meeting.max_signal_bytes)?;
        let (sender, target) = self
            .meetings
            .pair(&req.room_id, meeting_id, from, &req.to)
            .await
            .map_err(store_down)?;
        if sender.is_none() {
            return Err(not_in_meeting());
        }
        let Some(target) = target else {
            return Err(AppError::new(
                404,
                "peer_not_found",
                "no such peer in this meeting",
            ));
        };
        let event = MeetingSignal {
            room_id: &req.room_id,
            from,
            from_user_id: &p.user_id,
            signal: &req.signal,
        };
        let to = Target::Peer {
            user: target.user_id,
            peer: target.peer_id,
        };
        self.emit(to, None, &event).await;
        Ok(())
    }
}
