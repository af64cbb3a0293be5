//! The Socket.IO server on :4501: authentication at connect, ordered event dispatch, handlers.

mod catchup;
mod dispatch;
pub mod events;
mod handlers;
mod session;

use std::sync::Arc;

use serde_json::{json, Value};
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::DisconnectReason;
use socketioxide::SocketIo;

use crate::auth::bearer;
use crate::backplane::{keys, Target};
use crate::error::AppError;
use crate::http::AppState;
use session::Session;

/// The `connect_error` a refused connection gets: socket.io-client shows
/// `err.message` and `err.data = { code, message }`.
#[derive(Debug)]
struct Refused(AppError);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let body = json!({
            "message": self.0.message,
            "data": { "code": self.0.code, "message": self.0.message },
        });
        write!(f, "{body}")
    }
}

/// Token from `auth: { token }`, else `?token=`, else an `Authorization` header.
fn token_of(socket: &SocketRef, auth: &Option<Value>) -> Option<String> {
    if let Some(t) = auth
        .as_ref()
        .and_then(|a| a.get("token"))
        .and_then(Value::as_str)
    {
        return Some(t.to_string());
    }
    let parts = socket.req_parts();
    if let Some(q) = parts.uri.query() {
        if let Some((_, t)) = url_pairs(q).into_iter().find(|(k, _)| k == "token") {
            return Some(t);
        }
    }
    let h = parts.headers.get("authorization")?.to_str().ok()?;
    bearer(h).map(str::to_string)
}

fn url_pairs(q: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(q).unwrap_or_default()
}

/// Registers the namespace: the middleware authenticates and installs every
/// handler before the client is told it is connected, so no early event is lost.
pub fn register(io: &SocketIo, state: Arc<AppState>) {
    let middleware = move |socket: SocketRef, TryData(auth): TryData<Value>| {
        let state = state.clone();
        async move {
            let addr = crate::http::client_addr(socket.req_parts());
            state.chat.rate.connect_from(&addr).map_err(Refused)?;
            let token = token_of(&socket, &auth.ok()).ok_or_else(|| {
                Refused(AppError::unauthorized(
                    "a token is required: io(url, { auth: { token } })",
                ))
            })?;
            let principal = state.verifier.verify(&token).map_err(Refused)?;
            state
                .chat
                .rate
                .connect(&principal.user_id)
                .map_err(Refused)?;
            state.chat.remember(&principal).await.map_err(Refused)?;
            let session = Session::new(principal, addr);
            socket.extensions.insert(session.clone());
            let user_id = session.principal.user_id.clone();
            let backplane = &state.chat.backplane;
            backplane.subscribe(Target::User(user_id.clone())).await;
            // Loaded after subscribing, so no membership change falls in between.
            let rooms = if backplane.members().is_local(&user_id) {
                Vec::new()
            } else {
                match state.chat.store.rooms_of(&user_id).await {
                    Ok(rooms) => rooms,
                    Err(e) => {
                        backplane.unsubscribe(Target::User(user_id));
                        return Err(Refused(e.into()));
                    }
                }
            };
            backplane.socket_opened(&user_id, rooms).await;
            socket.join(keys::user(&user_id));
            dispatch::install(&socket, state.clone());
            let on_disconnect = {
                let state = state.clone();
                let session = session.clone();
                move |s: SocketRef, _: DisconnectReason| async move {
                    metrics::gauge!("classchat_socket_connections").decrement(1.0);
                    state
                        .chat
                        .backplane
                        .socket_closed(&session.principal.user_id);
                    for room in s.rooms() {
                        match keys::room_id_of(&room) {
                            Some(id) => state
                                .chat
                                .backplane
                                .unsubscribe(Target::Room(id.to_string())),
                            None if *room == keys::user(&session.principal.user_id) => state
                                .chat
                                .backplane
                                .unsubscribe(Target::User(session.principal.user_id.clone())),
                            None => {}
                        }
                    }
                    let chat = state.chat.clone();
                    let user_id = session.principal.user_id.clone();
                    tokio::spawn(async move {
                        if chat.draining.load(std::sync::atomic::Ordering::Acquire) {
                            tokio::time::sleep(crate::service::HANDOVER).await;
                        }
                        if let Err(e) = chat.user_disconnected(&user_id).await {
                            tracing::warn!(error = %e, "presence update on disconnect failed");
                        }
                    });
                }
            };
            socket.on_disconnect(on_disconnect);
            metrics::gauge!("classchat_socket_connections").increment(1.0);
            metrics::counter!("classchat_socket_connects_total").increment(1);
            if let Err(e) = state.chat.user_connected(&session.principal).await {
                tracing::warn!(error = %e, "presence update on connect failed");
            }
            Ok::<(), Refused>(())
        }
    };
    io.ns("/", (async |_: SocketRef| {}).with(middleware));
}
