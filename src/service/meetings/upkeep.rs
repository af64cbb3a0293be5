//! Periodic upkeep of meetings on every node: a meeting nobody has been in for
//! `CLASSCHAT_MEETING_EMPTY_SECS` ends (once, whichever node sees it first), a peer of
//! this node whose socket is gone leaves (its leave at disconnect failed), and the
//! cluster-wide gauges are set.

use std::sync::Arc;
use std::time::Duration;

use crate::backplane::keys;
use crate::domain::meeting::{EndReason, LeftReason};
use crate::domain::time::now_ms;
use crate::service::Chat;

/// Most running meetings looked at per round.
const SCAN: i64 = 10_000;

impl Chat {
    /// How often the upkeep runs: a fifth of the empty time, between 200 ms and 5 s.
    pub fn meeting_upkeep_every(&self) -> Duration {
        let empty = Duration::from_secs(self.limits.meeting.empty_secs);
        (empty / 5).clamp(Duration::from_millis(200), Duration::from_secs(5))
    }

    /// One round: ends meetings empty for long enough; sets the gauges.
    pub async fn meeting_upkeep(&self) {
        let rows = match self.store.running_meetings(SCAN).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "running meetings not read");
                return;
            }
        };
        let empty_ms = (self.limits.meeting.empty_secs * 1000) as i64;
        let now = now_ms();
        let (mut running, mut peers) = (0usize, 0usize);
        for row in rows {
            let live = match self.meetings.live(&row.room_id, &row.id).await {
                Ok(live) => live,
                Err(_) => return,
            };
            let Some(live) = live else {
                // No record (a restart, or Redis came back empty): empty from now on.
                let _ = self.meetings.open(&row.room_id, &row.id, now).await;
                running += 1;
                continue;
            };
            // Peers of this node whose socket is gone (a leave that could not reach Redis).
            for peer in &live.peers {
                let socket_gone = self.io.members(&keys::peer(&peer.peer_id)).is_empty();
                if peer.node == self.node_id && socket_gone {
                    let reason = LeftReason::Disconnected;
                    let _ = self
                        .leave_meeting(&row.room_id, &row.id, &peer.peer_id, reason)
                        .await;
                }
            }
            let idle = live.empty_since.is_some_and(|t| now - t >= empty_ms);
            if live.peers.is_empty() && idle {
                if let Err(e) = self.finish(&row, None, EndReason::Empty).await {
                    tracing::warn!(error = %e, "empty meeting not ended");
                }
                continue;
            }
            running += 1;
            peers += live.peers.len();
        }
        metrics::gauge!("classchat_meetings_running").set(running as f64);
        metrics::gauge!("classchat_meeting_participants").set(peers as f64);
    }
}

/// Runs the upkeep for as long as the node does. In cluster mode it first drops the
/// peers this node's previous run left behind (a restart with the same node id).
pub async fn run(chat: Arc<Chat>, cluster: bool) {
    if cluster {
        chat.meeting_node_gone(&chat.node_id.clone()).await;
    }
    let mut tick = tokio::time::interval(chat.meeting_upkeep_every());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        chat.meeting_upkeep().await;
    }
}
