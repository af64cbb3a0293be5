//! Cluster presence in Redis. Per user a hash of socket counts per node (plus the chosen
//! `status`), in the user's slot, refreshed by each node's heartbeat and expiring without
//! it; per node a heartbeat score and the set of its users, in the node-level slot (see
//! `nodes.rs`), so the living nodes can sweep a dead node's users offline (exactly once,
//! under a lock) within the presence TTL. Each script touches the user's hash only; the
//! node-level records follow with plain commands.

use std::collections::HashMap;
use std::time::Duration;

use dashmap::DashMap;
use fred::clients::Client;
use fred::interfaces::{HashesInterface, LuaInterface, SetsInterface};

use super::StatusChange;
use crate::backplane::keys::Keys;
use crate::domain::Status;

use super::scripts::{connect_script, disconnect_script, parse, set_status_script, sum};

/// A user a sweep found offline.
pub struct WentOffline {
    pub user_id: String,
    pub announce: bool,
    pub last_seen: i64,
}

pub struct RedisPresence {
    pub(super) client: Client,
    pub(super) keys: Keys,
    pub(super) node: String,
    pub(super) ttl: Duration,
    /// This node's sockets per user: what the heartbeat refreshes.
    pub(super) local: DashMap<String, u32>,
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

    pub(super) fn key_ttl_ms(&self) -> String {
        (self.ttl.as_millis() * 2).to_string()
    }

    pub(super) async fn eval(
        &self,
        script: &str,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Option<String> {
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
        let keys = vec![self.keys.presence(user_id)];
        let args = vec![self.node.clone(), self.key_ttl_ms()];
        let (total, status) = parse(&self.eval(&connect_script(), keys, args).await?);
        if let Err(e) = self
            .client
            .sadd::<i64, _, _>(self.keys.node_users(&self.node), user_id)
            .await
        {
            tracing::warn!(error = %e, "presence update failed");
        }
        (total == 1 && status != Status::Offline).then_some(StatusChange { status })
    }

    pub async fn disconnect(&self, user_id: &str) -> (bool, Option<StatusChange>) {
        self.local.remove_if_mut(user_id, |_, n| {
            *n = n.saturating_sub(1);
            *n == 0
        });
        let keys = vec![self.keys.presence(user_id)];
        let args = vec![self.node.clone()];
        let Some(out) = self.eval(&disconnect_script(), keys, args).await else {
            return (false, None);
        };
        let (here, rest) = out.split_once('|').unwrap_or(("0", ""));
        let (total, status) = parse(rest);
        let offline = total <= 0;
        self.after_disconnect(user_id, here.parse().unwrap_or(0), offline)
            .await;
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
        // One HGETALL per user (their hashes are in as many slots), in one pipeline.
        let pipeline = self.client.pipeline();
        for u in user_ids {
            let _ = pipeline.hgetall::<(), _>(self.keys.presence(u)).await;
        }
        let out: Vec<Result<HashMap<String, String>, _>> = pipeline.try_all().await;
        if let Some(Err(e)) = out.iter().find(|r| r.is_err()) {
            tracing::warn!(error = %e, "presence read failed");
        }
        user_ids
            .iter()
            .enumerate()
            .map(|(i, _)| match out.get(i) {
                Some(Ok(h)) => {
                    let (n, st) = sum(h);
                    (n > 0, if n > 0 { st } else { Status::Offline })
                }
                _ => (false, Status::Offline),
            })
            .collect()
    }

    /// Users with a socket on this node.
    pub fn local_users(&self) -> usize {
        self.local.len()
    }
}
