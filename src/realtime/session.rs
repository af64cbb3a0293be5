//! Per-socket session: the authenticated caller and the address they connect from.

use std::sync::Arc;

use crate::domain::Principal;

pub struct Session {
    pub principal: Principal,
    /// The client's address, for per-address rate limits.
    pub addr: String,
}

impl Session {
    pub fn new(principal: Principal, addr: String) -> Arc<Self> {
        Arc::new(Session { principal, addr })
    }
}
