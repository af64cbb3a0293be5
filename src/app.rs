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
    /// What the web client at `/app/` is told.
    pub web: WebSettings,
}

/// The web client's settings: where its Socket.IO connection goes, and the secret of
/// "try it" tokens (only on a zero-configuration single node).
#[derive(Default)]
pub struct WebSettings {
    /// The Socket.IO listener's port (known once it is bound).
    pub socket_port: std::sync::atomic::AtomicU16,
    /// `CLASSCHAT_WEB_SOCKET_URL`, if set.
    pub socket_url: Option<String>,
    /// `Some`: "try it" sign-in mints tokens with this (the generated) secret.
    pub try_it: Option<Vec<u8>>,
}

/// The client's address: the `ClientAddress` the `forwarded` layer found (the TCP peer,
/// or what a trusted proxy forwarded), else the TCP peer. Used for per-address rate
/// limits, by REST and at the Socket.IO handshake alike.
pub fn client_addr(parts: &axum::http::request::Parts) -> String {
    if let Some(a) = parts.extensions.get::<socketio_server::ClientAddress>() {
        return a.0.to_string();
    }
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default()
}
