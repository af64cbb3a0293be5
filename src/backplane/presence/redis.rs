//! Cluster presence in Redis. Per user a hash of socket counts per node (plus the chosen
//! `status`), refreshed by each node's heartbeat and expiring without it; per node a
//! heartbeat score and the set of its users, so the living nodes can sweep a dead node's
//! users offline (exactly once, under a lock) within the presence TTL.

use std::collections::HashMap;
use std::time::Duration;

use dashmap::DashMap;
use fred::clients::Client;
use fred::interfaces::{
    HashesInterface, KeysInterface, LuaInterface, SetsInterface, SortedSetsInterface,
};
use fred::types::{Expiration, SetOptions};

use super::StatusChange;
use crate::backplane::keys::Keys;
use crate::domain::Status;

use super::scripts::{
    connect_script, disconnect_script, drop_node_script, parse, set_status_script, REFRESH, STATES,
};

/// A user a sweep found offline.
pub struct WentOffline {
    pub user_id: String,
    pub announce: bool,
    pub last_seen: i64,
}

pub struct RedisPresence {
    client: Client,
    keys: Keys,
    node: String,
    ttl: Duration,
    /// This node's sockets per user: what the heartbeat refreshes.
    local: DashMap<String, u32>,
}

impl RedisPresence {
    pub fn new(client: Client, keys: Keys, node: String, ttl: Duration) -> Self {
        RedisPresence {
            client,
            keys,
            node,
            ttl,
            local: DashMap::new(),
        }
    }

    fn key_ttl_ms(&self) -> String {
        (self.ttl.as_millis() * 2).to_string()
    }

    async fn eval(&self, script: &str, keys: Vec<String>, args: Vec<String>) -> Option<String> {
        match self
            .client
            .eval::<String, _, _, _>(script, keys, args)
            .await
        {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "presence update failed");
                None
            }
        }
    }

    pub async fn connect(&self, user_id: &str) -> Option<StatusChange> {
        *self.local.entry(user_id.to_string()).or_insert(0) += 1;
        let keys = vec![
            self.keys.presence(user_id),
            self.keys.node_users(&self.node),
            self.keys.online(),
        ];
        let args = vec![self.node.clone(), self.key_ttl_ms(), user_id.to_string()];
        let (total, status) = parse(&self.eval(&connect_script(), keys, args).await?);
        (total == 1 && status != Status::Offline).then_some(StatusChange { status })
    }

    pub async fn disconnect(&self, user_id: &str) -> (bool, Option<StatusChange>) {
        self.local.remove_if_mut(user_id, |_, n| {
            *n = n.saturating_sub(1);
            *n == 0
        });
        let keys = vec![
            self.keys.presence(user_id),
            self.keys.node_users(&self.node),
            self.keys.online(),
            self.keys.last_seen(),
        ];
        let now = crate::domain::time::now_ms().to_string();
        let args = vec![self.node.clone(), user_id.to_string(), now];
        let Some(out) = self.eval(&disconnect_script(), keys, args).await else {
            return (false, None);
        };
        let (total, status) = parse(&out);
        let offline = total <= 0;
        (
            offline,
            (offline && status != Status::Offline).then_some(StatusChange {
                status: Status::Offline,
            }),
        )
    }

    pub async fn set_status(&self, user_id: &str, status: Status) -> Option<StatusChange> {
        let out = self
            .eval(
                &set_status_script(),
                vec![self.keys.presence(user_id)],
                vec![status.as_str().to_string()],
            )
            .await?;
        let (total, before) = parse(&out);
        (total > 0 && before != status).then_some(StatusChange { status })
    }

    pub async fn states(&self, user_ids: &[String]) -> Vec<(bool, Status)> {
        if user_ids.is_empty() {
            return Vec::new();
        }
        let keys: Vec<String> = user_ids.iter().map(|u| self.keys.presence(u)).collect();
        match self
            .client
            .eval::<Vec<String>, _, _, _>(STATES, keys, Vec::<String>::new())
            .await
        {
            Ok(v) => v
                .iter()
                .map(|s| {
                    let (n, st) = parse(s);
                    (n > 0, if n > 0 { st } else { Status::Offline })
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "presence read failed");
                user_ids.iter().map(|_| (false, Status::Offline)).collect()
            }
        }
    }

    pub async fn online_users(&self) -> usize {
        self.client
            .scard::<usize, _>(self.keys.online())
            .await
            .unwrap_or(0)
    }

    /// Heartbeat: this node is alive, its figures, and its users' presence kept fresh.
    /// With `reassert` (after Redis came back empty) the counts are written again.
    pub async fn heartbeat(&self, connections: usize, active_rooms: usize, reassert: bool) {
        let now = crate::domain::time::now_ms();
        let _ = self
            .client
            .zadd::<i64, _, _>(
                self.keys.nodes(),
                None,
                None,
                false,
                false,
                (now as f64, self.node.as_str()),
            )
            .await;
        let stats = self.keys.node_stats(&self.node);
        let fields: HashMap<String, String> = HashMap::from([
            ("connections".to_string(), connections.to_string()),
            ("activeRooms".to_string(), active_rooms.to_string()),
            ("onlineUsers".to_string(), self.local.len().to_string()),
        ]);
        let _ = self.client.hset::<i64, _, _>(&stats, fields).await;
        let _ = self
            .client
            .pexpire::<i64, _>(&stats, (self.ttl.as_millis() * 3) as i64, None)
            .await;
        let users: Vec<(String, u32)> = self
            .local
            .iter()
            .map(|e| (e.key().clone(), *e.value()))
            .collect();
        for chunk in users.chunks(500) {
            let keys: Vec<String> = chunk.iter().map(|(u, _)| self.keys.presence(u)).collect();
            let mut args = vec![self.node.clone(), self.key_ttl_ms()];
            args.extend(chunk.iter().map(|(_, n)| {
                if reassert {
                    n.to_string()
                } else {
                    String::new()
                }
            }));
            let _ = self.client.eval::<i64, _, _, _>(REFRESH, keys, args).await;
            if reassert {
                let ids: Vec<String> = chunk.iter().map(|(u, _)| u.clone()).collect();
                let _ = self
                    .client
                    .sadd::<i64, _, _>(self.keys.node_users(&self.node), ids.clone())
                    .await;
                let _ = self.client.sadd::<i64, _, _>(self.keys.online(), ids).await;
            }
        }
    }

    /// Finds nodes whose heartbeat stopped and takes their users offline (once, cluster-wide).
    /// Also returns the nodes this call swept (whose meeting peers are to be dropped).
    pub async fn sweep(&self) -> (Vec<WentOffline>, Vec<String>) {
        let now = crate::domain::time::now_ms();
        let dead_before = now - (self.ttl.as_millis() as i64) * 2 / 3;
        let dead: Vec<String> = self
            .client
            .zrangebyscore(self.keys.nodes(), "-inf", dead_before as f64, false, None)
            .await
            .unwrap_or_default();
        let mut out = Vec::new();
        let mut swept = Vec::new();
        for node in dead.into_iter().filter(|n| *n != self.node) {
            let lock = self
                .client
                .set::<Option<String>, _, _>(
                    self.keys.sweep_lock(&node),
                    self.node.as_str(),
                    Some(Expiration::PX(60_000)),
                    Some(SetOptions::NX),
                    false,
                )
                .await;
            if !matches!(lock, Ok(Some(_))) {
                continue;
            }
            let users: Vec<String> = self
                .client
                .smembers(self.keys.node_users(&node))
                .await
                .unwrap_or_default();
            for user in users {
                let keys = vec![
                    self.keys.presence(&user),
                    self.keys.online(),
                    self.keys.last_seen(),
                ];
                let args = vec![node.clone(), user.clone(), now.to_string()];
                if let Some(s) = self.eval(&drop_node_script(), keys, args).await {
                    let (total, status) = parse(&s);
                    if total <= 0 {
                        out.push(WentOffline {
                            user_id: user,
                            announce: status != Status::Offline,
                            last_seen: now,
                        });
                    }
                }
            }
            let _ = self
                .client
                .del::<i64, _>(vec![
                    self.keys.node_users(&node),
                    self.keys.node_stats(&node),
                ])
                .await;
            let _ = self
                .client
                .zrem::<i64, _, _>(self.keys.nodes(), node.as_str())
                .await;
            tracing::info!(node = %node, "swept a dead node's presence");
            swept.push(node);
        }
        (out, swept)
    }

    /// Per-node figures of the living nodes: (node id, connections, online users, active rooms).
    pub async fn nodes(&self) -> Vec<(String, u64, u64, u64)> {
        let now = crate::domain::time::now_ms();
        let alive_after = now - (self.ttl.as_millis() as i64) * 2 / 3;
        let nodes: Vec<String> = self
            .client
            .zrangebyscore(self.keys.nodes(), alive_after as f64, "+inf", false, None)
            .await
            .unwrap_or_default();
        let mut out = Vec::new();
        for n in nodes {
            let h: HashMap<String, u64> = self
                .client
                .hgetall(self.keys.node_stats(&n))
                .await
                .unwrap_or_default();
            let get = |k: &str| h.get(k).copied().unwrap_or(0);
            out.push((
                n,
                get("connections"),
                get("onlineUsers"),
                get("activeRooms"),
            ));
        }
        out
    }

    /// Removes this node from the registry and its figures (graceful shutdown).
    pub async fn leave(&self) {
        let _ = self
            .client
            .zrem::<i64, _, _>(self.keys.nodes(), self.node.as_str())
            .await;
        let _ = self
            .client
            .del::<i64, _>(vec![
                self.keys.node_stats(&self.node),
                self.keys.node_users(&self.node),
            ])
            .await;
    }

    /// Users with a socket on this node.
    pub fn local_users(&self) -> usize {
        self.local.len()
    }
}
