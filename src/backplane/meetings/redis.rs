//! The meeting store of a cluster, in Redis: per room one hash (`Keys::meeting`: the
//! meta under `_m`, then one field per peer), changed by Lua scripts so a join's
//! limit and lock checks and its write are one step; per node the set of peers it
//! hosts, which the node that sweeps it (or the node itself, starting again) drops.

use std::collections::HashMap;

use fred::clients::Client;
use fred::interfaces::{HashesInterface, KeysInterface, LuaInterface, SetsInterface};
use serde::{Deserialize, Serialize};

use super::scripts::{JOIN, KEY_TTL_MS, LEAVE, META, META_SET, UPDATE};
use super::{Dropped, JoinRequest, Joined, Live, PeerRecord, StoreResult};
use crate::backplane::keys::Keys;
use crate::domain::meeting::MediaPatch;

#[derive(Serialize, Deserialize, Default)]
struct Meta {
    id: String,
    #[serde(default)]
    locked: bool,
    #[serde(default)]
    empty_since: Option<f64>,
}

pub struct RedisMeetings {
    client: Client,
    keys: Keys,
    node: String,
}

fn err(e: fred::error::Error) -> String {
    tracing::warn!(error = %e, "meeting store unavailable");
    e.to_string()
}

/// Peers in order of joining.
fn sort(peers: &mut [PeerRecord]) {
    peers.sort_by(|a, b| (a.joined_at, &a.peer_id).cmp(&(b.joined_at, &b.peer_id)));
}

fn record(s: &str) -> Option<PeerRecord> {
    serde_json::from_str(s).ok()
}

impl RedisMeetings {
    pub fn new(client: Client, keys: Keys, node: String) -> Self {
        RedisMeetings { client, keys, node }
    }

    async fn eval<T: fred::types::FromValue>(
        &self,
        body: &str,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> StoreResult<T> {
        let script = format!("{META}{body}");
        self.client.eval(script, keys, args).await.map_err(err)
    }

    fn member(room_id: &str, peer_id: &str) -> String {
        serde_json::to_string(&(room_id, peer_id)).unwrap_or_default()
    }

    /// Takes a peer out of its node's set.
    async fn unlist(&self, room_id: &str, peer_id: &str, node: &str) {
        let (set, member) = (
            self.keys.meeting_peers(node),
            Self::member(room_id, peer_id),
        );
        let _ = self.client.srem::<i64, _, _>(set, member).await;
    }

    async fn meta_set(
        &self,
        room_id: &str,
        meeting_id: &str,
        locked: &str,
        now: i64,
    ) -> StoreResult<()> {
        let args = vec![
            meeting_id.into(),
            locked.into(),
            now.to_string(),
            KEY_TTL_MS.into(),
        ];
        self.eval::<i64>(META_SET, vec![self.keys.meeting(room_id)], args)
            .await
            .map(|_| ())
    }

    pub async fn open(&self, room_id: &str, meeting_id: &str, now: i64) -> StoreResult<()> {
        self.meta_set(room_id, meeting_id, "", now).await
    }

    pub async fn set_locked(
        &self,
        room_id: &str,
        meeting_id: &str,
        locked: bool,
    ) -> StoreResult<()> {
        let now = crate::domain::time::now_ms();
        self.meta_set(room_id, meeting_id, if locked { "1" } else { "0" }, now)
            .await
    }

    pub async fn join(&self, req: JoinRequest<'_>) -> StoreResult<Joined> {
        let rec = serde_json::to_string(&req.peer).map_err(|e| e.to_string())?;
        // The node's set first (another slot), so its sweep finds the peer; undone if refused.
        let (set, member) = (
            self.keys.meeting_peers(&req.peer.node),
            Self::member(req.room_id, &req.peer.peer_id),
        );
        self.client
            .sadd::<i64, _, _>(&set, &member)
            .await
            .map_err(err)?;
        let keys = vec![self.keys.meeting(req.room_id)];
        let args = vec![
            req.meeting_id.to_string(),
            req.peer.peer_id.clone(),
            rec,
            req.max.to_string(),
            if req.host { "1" } else { "0" }.to_string(),
            KEY_TTL_MS.to_string(),
        ];
        let out: Vec<String> = self.eval(JOIN, keys, args).await?;
        let joined = match out.first().map(String::as_str) {
            Some("locked") => Joined::Locked,
            Some("full") => Joined::Full,
            _ => {
                let mut peers: Vec<PeerRecord> =
                    out.iter().skip(1).filter_map(|s| record(s)).collect();
                sort(&mut peers);
                Joined::Peers(peers)
            }
        };
        if !matches!(joined, Joined::Peers(_)) {
            let _ = self.client.srem::<i64, _, _>(&set, &member).await;
        }
        Ok(joined)
    }

    async fn leave_any(
        &self,
        room_id: &str,
        meeting_id: &str,
        peer_id: &str,
        now: i64,
    ) -> StoreResult<Option<(String, PeerRecord)>> {
        let args = vec![meeting_id.into(), peer_id.into(), now.to_string()];
        let out: Option<Vec<String>> = self
            .eval(LEAVE, vec![self.keys.meeting(room_id)], args)
            .await?;
        let Some([id, rec]) = out.as_deref() else {
            return Ok(None);
        };
        let Some(rec) = record(rec) else {
            return Ok(None);
        };
        self.unlist(room_id, peer_id, &rec.node).await;
        Ok(Some((id.clone(), rec)))
    }

    pub async fn leave(
        &self,
        room_id: &str,
        meeting_id: &str,
        peer_id: &str,
        now: i64,
    ) -> StoreResult<Option<PeerRecord>> {
        Ok(self
            .leave_any(room_id, meeting_id, peer_id, now)
            .await?
            .map(|(_, r)| r))
    }

    pub async fn update(
        &self,
        room_id: &str,
        meeting_id: &str,
        peer_id: &str,
        patch: &MediaPatch,
    ) -> StoreResult<Option<PeerRecord>> {
        // Field names as in the record (`hand_raised`), only those given.
        let mut fields = serde_json::Map::new();
        for (k, v) in [
            ("audio", patch.audio),
            ("video", patch.video),
            ("screen", patch.screen),
            ("hand_raised", patch.hand_raised),
        ] {
            if let Some(v) = v {
                fields.insert(k.into(), v.into());
            }
        }
        let args = vec![
            meeting_id.into(),
            peer_id.into(),
            serde_json::Value::Object(fields).to_string(),
        ];
        let out: Option<String> = self
            .eval(UPDATE, vec![self.keys.meeting(room_id)], args)
            .await?;
        Ok(out.as_deref().and_then(record))
    }

    async fn all(&self, room_id: &str) -> StoreResult<HashMap<String, String>> {
        self.client
            .hgetall(self.keys.meeting(room_id))
            .await
            .map_err(err)
    }

    pub async fn live(&self, room_id: &str, meeting_id: &str) -> StoreResult<Option<Live>> {
        let mut all = self.all(room_id).await?;
        let meta: Option<Meta> = all.remove("_m").and_then(|m| serde_json::from_str(&m).ok());
        let Some(meta) = meta.filter(|m| m.id == meeting_id) else {
            return Ok(None);
        };
        let mut peers: Vec<PeerRecord> = all.values().filter_map(|s| record(s)).collect();
        sort(&mut peers);
        Ok(Some(Live {
            locked: meta.locked,
            empty_since: if peers.is_empty() {
                meta.empty_since.map(|t| t as i64)
            } else {
                None
            },
            peers,
        }))
    }

    pub async fn peer(
        &self,
        room_id: &str,
        meeting_id: &str,
        peer_id: &str,
    ) -> StoreResult<Option<PeerRecord>> {
        Ok(self.pair(room_id, meeting_id, peer_id, peer_id).await?.0)
    }

    /// Two peers in one round trip.
    pub async fn pair(
        &self,
        room_id: &str,
        meeting_id: &str,
        a: &str,
        b: &str,
    ) -> StoreResult<(Option<PeerRecord>, Option<PeerRecord>)> {
        let (meta, ra, rb): (Option<String>, Option<String>, Option<String>) = self
            .client
            .hmget(self.keys.meeting(room_id), vec!["_m", a, b])
            .await
            .map_err(err)?;
        let ours = meta
            .and_then(|m| serde_json::from_str::<Meta>(&m).ok())
            .is_some_and(|m| m.id == meeting_id);
        if !ours {
            return Ok((None, None));
        }
        Ok((
            ra.as_deref().and_then(record),
            rb.as_deref().and_then(record),
        ))
    }

    pub async fn close(&self, room_id: &str, meeting_id: &str) -> StoreResult<Vec<PeerRecord>> {
        let Some(live) = self.live(room_id, meeting_id).await? else {
            return Ok(Vec::new());
        };
        self.client
            .del::<i64, _>(self.keys.meeting(room_id))
            .await
            .map_err(err)?;
        for p in &live.peers {
            self.unlist(room_id, &p.peer_id, &p.node).await;
        }
        Ok(live.peers)
    }

    pub async fn drop_node(&self, node: &str, now: i64) -> StoreResult<Vec<Dropped>> {
        let set = self.keys.meeting_peers(node);
        let members: Vec<String> = self.client.smembers(&set).await.map_err(err)?;
        let mut out = Vec::new();
        for m in members {
            let Ok((room_id, peer_id)) = serde_json::from_str::<(String, String)>(&m) else {
                continue;
            };
            if let Some((meeting_id, peer)) = self.leave_any(&room_id, "", &peer_id, now).await? {
                out.push(Dropped {
                    room_id,
                    meeting_id,
                    peer,
                });
            }
        }
        let _ = self.client.del::<i64, _>(&set).await;
        if node == self.node && !out.is_empty() {
            tracing::info!(
                peers = out.len(),
                "dropped meeting peers left from this node's last run"
            );
        }
        Ok(out)
    }
}
