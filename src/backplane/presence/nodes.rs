//! The node-level half of Redis presence, all in the prefix's slot: the registry of
//! nodes (heartbeat scores), each node's figures and user set, last seen; the heartbeat,
//! the online count, and the sweep of a dead node.

use std::collections::HashMap;

use fred::interfaces::{
    HashesInterface, KeysInterface, LuaInterface, SetsInterface, SortedSetsInterface,
};
use fred::types::{Expiration, SetOptions};

use super::redis::{RedisPresence, WentOffline};
use super::scripts::{drop_node_script, parse, NODE_USERS, UNION_COUNT};
use crate::domain::Status;

impl RedisPresence {
    /// After a disconnect's script: this node's user set and, once offline, last seen.
    /// The set is checked against the local count too (a socket of the user may have
    /// connected here meanwhile); a race left over is mended by the next heartbeat.
    pub(super) async fn after_disconnect(&self, user_id: &str, here: i64, offline: bool) {
        if here <= 0 && !self.local.contains_key(user_id) {
            let _ = self
                .client
                .srem::<i64, _, _>(self.keys.node_users(&self.node), user_id)
                .await;
        }
        if offline {
            let now = crate::domain::time::now_ms();
            let _ = self
                .client
                .hset::<i64, _, _>(self.keys.last_seen(), (user_id, now))
                .await;
        }
    }

    /// Users online anywhere: the size of the union of the registered nodes' user sets
    /// (one slot, counted in Redis).
    pub async fn online_users(&self) -> usize {
        let mut nodes: Vec<String> = self
            .client
            .zrange(self.keys.nodes(), 0, -1, None, false, None, false)
            .await
            .unwrap_or_default();
        if !nodes.contains(&self.node) {
            nodes.push(self.node.clone());
        }
        let mut keys = vec![self.keys.online()];
        keys.extend(nodes.iter().map(|n| self.keys.node_users(n)));
        self.client
            .eval::<usize, _, _, _>(UNION_COUNT, keys, Vec::<String>::new())
            .await
            .unwrap_or(0)
    }

    /// Heartbeat: this node is alive, its figures, and its users' presence kept fresh.
    /// With `reassert` (after Redis came back empty) the counts are written again.
    /// Whether the node's registry entry was written.
    pub async fn heartbeat(&self, connections: usize, active_rooms: usize, reassert: bool) -> bool {
        let now = crate::domain::time::now_ms();
        let registered = self
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
        // This node's user set, replaced by what it holds now.
        let ids: Vec<String> = users.iter().map(|(u, _)| u.clone()).collect();
        let _ = self
            .client
            .eval::<i64, _, _, _>(NODE_USERS, vec![self.keys.node_users(&self.node)], ids)
            .await;
        // Each user's hash (in as many slots as users): one pipeline per chunk.
        let ttl = self.ttl.as_millis() as i64 * 2;
        for chunk in users.chunks(500) {
            let pipeline = self.client.pipeline();
            for (u, n) in chunk {
                let key = self.keys.presence(u);
                if reassert {
                    let _ = pipeline
                        .hset::<(), _, _>(&key, (self.node.as_str(), *n as i64))
                        .await;
                }
                let _ = pipeline.pexpire::<(), _>(&key, ttl, None).await;
            }
            let _: Vec<Result<i64, _>> = pipeline.try_all().await;
        }
        registered.is_ok()
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
                let keys = vec![self.keys.presence(&user)];
                if let Some(s) = self
                    .eval(&drop_node_script(), keys, vec![node.clone()])
                    .await
                {
                    let (total, status) = parse(&s);
                    if total <= 0 {
                        let _ = self
                            .client
                            .hset::<i64, _, _>(self.keys.last_seen(), (user.as_str(), now))
                            .await;
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
}
