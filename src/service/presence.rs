//! Presence: connect/disconnect accounting, chosen status, last seen, room online users, stats.

use serde::Serialize;

use super::{encode, Chat};
use crate::backplane::Presence;
use crate::domain::error::{AppError, AppResult};
use crate::domain::events::{ChatUserStatusUpdate, ServerEvent};
use crate::domain::permissions;
use crate::domain::time::now_ms;
use crate::domain::{Principal, Status, UserStatus};

/// `GET /chat/ws/stats`: the cluster, and each node (this one first).
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStats {
    /// `local` (one node) or `redis` (a cluster).
    #[schema(value_type = String)]
    pub mode: &'static str,
    pub connections: u64,
    pub online_users: u64,
    pub active_rooms: u64,
    pub nodes: Vec<NodeStats>,
}

#[derive(Serialize, Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeStats {
    pub node_id: String,
    pub connections: u64,
    pub online_users: u64,
    pub active_rooms: u64,
}

impl Chat {
    /// Tells each online contact the user's state. One announcement per user is in
    /// flight at a time: a change made meanwhile waits, replacing any change waiting
    /// before it, so a burst of changes ends with the latest one and costs two fan-outs.
    pub(crate) async fn announce_status(
        &self,
        user_id: &str,
        status: Status,
        last_seen: Option<i64>,
    ) -> AppResult<()> {
        let mut turn = loop {
            if let Some(turn) = self.announcing.claim(user_id) {
                break turn;
            }
            if self.announcing.queue(user_id, (status, last_seen)) {
                metrics::counter!("classchat_status_coalesced_total").increment(1);
                return Ok(());
            }
        };
        let mut next = Some((status, last_seen));
        let mut result = Ok(());
        while let Some((status, last_seen)) = next {
            if let Err(e) = self.announce_now(user_id, status, last_seen).await {
                result = Err(e);
            }
            next = turn.next();
        }
        result
    }

    /// Tells each online contact once, however many rooms they share: published once per
    /// room of the user, to the nodes where members of that room are online.
    async fn announce_now(
        &self,
        user_id: &str,
        status: Status,
        last_seen: Option<i64>,
    ) -> AppResult<()> {
        let update = ChatUserStatusUpdate(UserStatus {
            user_id: user_id.to_string(),
            status,
            last_seen,
        });
        let rooms = match self.backplane.members().rooms_of(user_id) {
            Some(rooms) => rooms,
            None => self.rooms_of(user_id).await?,
        };
        metrics::counter!("classchat_events_emitted_total", "event" => ChatUserStatusUpdate::NAME)
            .increment(1);
        let (small, large) = self.split_by_size(rooms).await;
        if !large.is_empty() {
            self.backplane.room_presence_changed(large).await;
        }
        if small.is_empty() {
            // No room, no contact to tell: nothing to encode.
            return Ok(());
        }
        let item = serde_json::to_vec(&update.0).unwrap_or_default();
        self.backplane
            .to_contacts(user_id, small, encode(&update), item.into())
            .await;
        Ok(())
    }

    /// A socket of this user connected.
    pub async fn user_connected(&self, p: &Principal) -> AppResult<()> {
        let change = self.presence.connect(&p.user_id).await;
        metrics::gauge!("classchat_online_users").set(self.presence_local_users() as f64);
        if let Some(change) = change {
            self.announce_status(&p.user_id, change.status, Some(now_ms()))
                .await?;
        }
        Ok(())
    }

    /// A socket of this user disconnected; the last one anywhere makes them offline with a last seen.
    pub async fn user_disconnected(&self, user_id: &str) -> AppResult<()> {
        // Stored first, so a status read right after the last disconnect has it.
        let now = now_ms();
        self.store.set_last_seen(user_id, now).await?;
        let (offline, change) = self.presence.disconnect(user_id).await;
        metrics::gauge!("classchat_online_users").set(self.presence_local_users() as f64);
        if offline {
            if let Some(change) = change {
                self.announce_status(user_id, change.status, Some(now))
                    .await?;
            }
        }
        Ok(())
    }

    /// The caller chose a status; contacts are told if what they see changed.
    pub async fn set_status(&self, p: &Principal, status: Status) -> AppResult<UserStatus> {
        self.rate.status(&p.user_id).await?;
        if let Some(change) = self.presence.set_status(&p.user_id, status).await {
            self.announce_status(&p.user_id, change.status, Some(now_ms()))
                .await?;
        }
        self.status_of(&p.user_id).await
    }

    async fn status_of(&self, user_id: &str) -> AppResult<UserStatus> {
        let (connected, status) = self.presence.state(user_id).await;
        // Invisible users (status offline while connected) show their stored last seen.
        let last_seen = if connected && status != Status::Offline {
            Some(now_ms())
        } else {
            self.store
                .get_user(user_id)
                .await?
                .and_then(|u| u.last_seen)
        };
        Ok(UserStatus {
            user_id: user_id.to_string(),
            status,
            last_seen,
        })
    }

    /// A contact's status (anyone's for admins).
    pub async fn get_status(&self, p: &Principal, user_id: &str) -> AppResult<UserStatus> {
        let contact = p.user_id != user_id && self.store.is_contact(&p.user_id, user_id).await?;
        if !permissions::can_view_status(p, user_id, contact) {
            return Err(AppError::forbidden(
                "you can see the status of your contacts only",
            ));
        }
        if p.is_admin() && p.user_id != user_id && self.store.get_user(user_id).await?.is_none() {
            return Err(AppError::user_not_found());
        }
        self.status_of(user_id).await
    }

    /// This node's connections, online users and active rooms.
    fn local_figures(&self) -> (usize, usize) {
        (self.io.connected(), self.backplane.active_rooms())
    }

    /// Cluster-wide and per-node connections, online users and active rooms (admins).
    pub async fn stats(&self, p: &Principal) -> AppResult<ClusterStats> {
        if !permissions::can_view_stats(p) {
            return Err(AppError::forbidden("cluster stats are for admins"));
        }
        let online_users = self.presence.online_users().await as u64;
        let (connections, active_rooms) = self.local_figures();
        let this = |online_users: u64| NodeStats {
            node_id: self.node_id.clone(),
            connections: connections as u64,
            online_users,
            active_rooms: active_rooms as u64,
        };
        let nodes = match self.presence.as_ref() {
            Presence::Redis(r) => {
                let others = r.nodes().await.into_iter().filter(|n| n.0 != self.node_id);
                std::iter::once(this(self.presence_local_users() as u64))
                    .chain(
                        others.map(|(node_id, connections, online_users, active_rooms)| {
                            NodeStats {
                                node_id,
                                connections,
                                online_users,
                                active_rooms,
                            }
                        }),
                    )
                    .collect()
            }
            Presence::Local(_) => vec![this(online_users)],
        };
        Ok(ClusterStats {
            mode: self.backplane.mode(),
            connections: nodes.iter().map(|n| n.connections).sum(),
            online_users,
            // Rooms active on several nodes count once per node here; the cluster figure
            // is the largest per-node count at least, and at most the sum.
            active_rooms: nodes.iter().map(|n| n.active_rooms).sum(),
            nodes,
        })
    }

    fn presence_local_users(&self) -> usize {
        match self.presence.as_ref() {
            Presence::Redis(r) => r.local_users(),
            Presence::Local(l) => l.online_users(),
        }
    }

    /// Drain: this node leaves the registry (its users' counts go with the sockets).
    pub async fn leave_cluster(&self) {
        if let Presence::Redis(r) = self.presence.as_ref() {
            r.leave().await;
        }
    }

    /// One round of cluster upkeep: heartbeat, then (with `may_sweep`) sweep dead nodes'
    /// users offline. Whether the heartbeat reached Redis.
    pub async fn cluster_tick(&self, reassert: bool, may_sweep: bool) -> bool {
        self.backplane.report_redis_health();
        let Presence::Redis(r) = self.presence.as_ref() else {
            return true;
        };
        let (connections, active_rooms) = self.local_figures();
        let alive = r.heartbeat(connections, active_rooms, reassert).await;
        if !(alive && may_sweep) {
            return alive;
        }
        let (offline, swept) = r.sweep().await;
        for node in swept {
            self.meeting_node_gone(&node).await;
        }
        for gone in offline {
            if let Err(e) = self
                .store
                .set_last_seen(&gone.user_id, gone.last_seen)
                .await
            {
                tracing::warn!(error = %e, "last seen not stored");
            }
            if gone.announce {
                if let Err(e) = self
                    .announce_status(&gone.user_id, Status::Offline, Some(gone.last_seen))
                    .await
                {
                    tracing::warn!(error = %e, "offline announcement failed");
                }
            }
        }
        true
    }
}
