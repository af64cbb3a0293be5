//! Per-socket session: the authenticated caller, the address they connect from, and
//! when their token ends.

use std::sync::Arc;

use crate::domain::time::now_ms;
use crate::domain::Principal;

pub struct Session {
    pub principal: Principal,
    /// The client's address, for per-address rate limits.
    pub addr: String,
    /// The token's `exp`, Unix ms: the socket's rights end then.
    pub expires_at_ms: i64,
}

impl Session {
    pub fn new(principal: Principal, addr: String, expires_at_ms: i64) -> Arc<Self> {
        Arc::new(Session {
            principal,
            addr,
            expires_at_ms,
        })
    }

    /// Whether the token has ended (the socket is about to be disconnected).
    pub fn expired(&self) -> bool {
        now_ms() >= self.expires_at_ms
    }
}
