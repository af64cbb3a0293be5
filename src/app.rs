//! What both adapters (REST and Socket.IO) share: the application state and who the
//! client is.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::auth::Verifier;
use crate::service::Chat;

pub struct AppState {
    pub chat: Arc<Chat>,
    pub verifier: Verifier,
    /// False while starting and once draining.
    pub ready: AtomicBool,
}

/// The client's address: the last `X-Forwarded-For` hop (the one our load balancer
/// appended; earlier hops are the client's word), else the TCP peer. Used for per-address
/// rate limits, by REST and at the Socket.IO handshake alike.
pub fn client_addr(parts: &axum::http::request::Parts) -> String {
    // HAProxy's `option forwardfor` adds its own header line after any the client sent.
    if let Some(last) = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
    {
        return last.trim().to_string();
    }
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default()
}
