//! Per-socket session: the authenticated caller, the address they connect from, and
//! when their token ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::time::now_ms;
use crate::domain::Principal;

pub struct Session {
    pub principal: Principal,
    /// The client's address, for per-address rate limits.
    pub addr: String,
    /// The token's `exp`, Unix ms: the socket's rights end then.
    pub expires_at_ms: i64,
    /// Status changes reach this socket in batches (`chat-users-status-update`).
    pub batched: bool,
    /// The meetings this socket joined: room id → (meeting id, peer id).
    meetings: Mutex<HashMap<String, (String, String)>>,
    /// Peers this socket left whose channel it is still in (until its next join).
    parted: Mutex<Vec<String>>,
}

impl Session {
    pub fn new(principal: Principal, addr: String, expires_at_ms: i64, batched: bool) -> Arc<Self> {
        Arc::new(Session {
            principal,
            addr,
            expires_at_ms,
            batched,
            meetings: Mutex::default(),
            parted: Mutex::default(),
        })
    }

    fn meetings(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, String)>> {
        self.meetings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This socket's meeting and peer in a room, if it joined one.
    pub fn meeting(&self, room_id: &str) -> Option<(String, String)> {
        self.meetings().get(room_id).cloned()
    }

    pub fn set_meeting(&self, room_id: &str, meeting_id: &str, peer_id: &str) {
        let v = (meeting_id.to_string(), peer_id.to_string());
        self.meetings().insert(room_id.to_string(), v);
    }

    /// Forgets the socket's meeting in a room; what it was.
    pub fn take_meeting(&self, room_id: &str) -> Option<(String, String)> {
        self.meetings().remove(room_id)
    }

    /// The socket left this peer.
    pub fn parted(&self, peer_id: &str) {
        let mut v = self.parted.lock().unwrap_or_else(|e| e.into_inner());
        v.push(peer_id.to_string());
    }

    /// The peers left since the last call.
    pub fn take_parted(&self) -> Vec<String> {
        std::mem::take(&mut *self.parted.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Every meeting the socket is in: (room id, meeting id, peer id).
    pub fn all_meetings(&self) -> Vec<(String, String, String)> {
        self.meetings()
            .iter()
            .map(|(r, (m, p))| (r.clone(), m.clone(), p.clone()))
            .collect()
    }

    /// Whether the token has ended (the socket is about to be disconnected).
    pub fn expired(&self) -> bool {
        now_ms() >= self.expires_at_ms
    }
}
