//! The Socket.IO server on :4501: authentication at connect, event dispatch, handlers.

mod catchup;
mod dispatch;
pub mod events;
mod handlers;
mod session;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{json, Value};

use crate::auth::bearer;
use crate::backplane::{keys, Target};
use crate::error::AppError;
use crate::http::AppState;
use socketio_server::{Args, Event, Handler, Handshake, Payload, Socket as Conn};

/// What the application keeps of a Socket.IO handshake request.
pub struct Client {
    /// The client's address (the load balancer's `X-Forwarded-For`, else the peer).
    pub addr: String,
    /// A token from `?token=` or an `Authorization: Bearer` header, if any.
    pub token: Option<String>,
}
use session::Session;

/// The `connect_error` body of a refused connection: socket.io-client shows
/// `err.message` and `err.data = { code, message }`.
fn refused(e: AppError) -> Value {
    json!({
        "message": e.message,
        "data": { "code": e.code, "message": e.message },
    })
}

/// What the handshake request tells: the client's address, and a token from `?token=`
/// or an `Authorization: Bearer` header (for clients that cannot set `auth`).
pub fn handshake(parts: &axum::http::request::Parts) -> Handshake {
    let from_query = parts.uri.query().and_then(|q| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .unwrap_or_default()
            .into_iter()
            .find(|(k, _)| k == "token")
            .map(|(_, t)| t)
    });
    let from_header = || {
        let h = parts.headers.get("authorization")?.to_str().ok()?;
        bearer(h).map(str::to_string)
    };
    Box::new(Client {
        addr: crate::http::client_addr(parts),
        token: from_query.or_else(from_header),
    })
}

/// The socket handler: connect, events, disconnect.
pub struct Realtime {
    state: Arc<AppState>,
}

impl Realtime {
    pub fn new(state: Arc<AppState>) -> Arc<Self> {
        Arc::new(Realtime { state })
    }
}

/// Authenticates, then puts the socket in its user's channel and presence.
async fn connect(
    state: Arc<AppState>,
    conn: Arc<Conn>,
    auth: Option<Value>,
) -> Result<(), AppError> {
    let chat = &state.chat;
    let client = conn
        .handshake::<Client>()
        .ok_or_else(|| AppError::internal("no handshake"))?;
    let addr = client.addr.clone();
    chat.rate.connect_from(&addr)?;
    let token = auth
        .as_ref()
        .and_then(|a| a.get("token"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| client.token.clone())
        .ok_or_else(|| {
            AppError::unauthorized("a token is required: io(url, { auth: { token } })")
        })?;
    let principal = state.verifier.verify(&token)?;
    chat.rate.connect(&principal.user_id)?;
    chat.remember(&principal).await?;
    let user_id = principal.user_id.clone();
    let backplane = &chat.backplane;
    backplane.subscribe(Target::User(user_id.clone())).await;
    // Loaded after subscribing, so no membership change falls in between.
    let rooms = if backplane.members().is_local(&user_id) {
        Vec::new()
    } else {
        match chat.rooms_of(&user_id).await {
            Ok(rooms) => rooms,
            Err(e) => {
                backplane.unsubscribe(Target::User(user_id));
                return Err(e);
            }
        }
    };
    backplane.socket_opened(&user_id, rooms).await;
    conn.set_data(Session::new(principal, addr));
    chat.io.join(&conn, &keys::user(&user_id));
    metrics::gauge!("classchat_socket_connections").increment(1.0);
    metrics::counter!("classchat_socket_connects_total").increment(1);
    if let Some(session) = conn.data::<Session>() {
        if let Err(e) = chat.user_connected(&session.principal).await {
            tracing::warn!(error = %e, "presence update on connect failed");
        }
    }
    Ok(())
}

impl Handler for Realtime {
    fn connect(
        &self,
        conn: Arc<Conn>,
        auth: Option<Value>,
    ) -> BoxFuture<'static, Result<(), Value>> {
        let state = self.state.clone();
        Box::pin(async move { connect(state, conn, auth).await.map_err(refused) })
    }

    fn event(&self, conn: Arc<Conn>, event: Event) -> BoxFuture<'static, Args> {
        // Events carry no binary data here: one with attachments has no usable payload.
        let payload = match event.attachments().is_empty() {
            true => event.payload,
            false => Payload::Invalid,
        };
        let state = self.state.clone();
        Box::pin(async move {
            dispatch::event(state, conn, event.name, payload)
                .await
                .into()
        })
    }

    fn busy(&self) -> Value {
        AppError::rate_limited(1).to_ack()
    }

    /// Releases what the socket held: its channels, its place in the member index and
    /// presence (handed over after a delay while the node drains).
    fn disconnect(&self, conn: Arc<Conn>, rooms: Vec<Arc<str>>) {
        let Some(session) = conn.data::<Session>() else {
            return;
        };
        let chat = self.state.chat.clone();
        let user_id = session.principal.user_id.clone();
        metrics::gauge!("classchat_socket_connections").decrement(1.0);
        chat.backplane.socket_closed(&user_id);
        chat.backplane.unsubscribe(Target::User(user_id.clone()));
        for room in &rooms {
            if let Some(id) = keys::room_id_of(room) {
                chat.backplane.unsubscribe(Target::Room(id.to_string()));
            }
        }
        tokio::spawn(async move {
            if chat.draining.load(std::sync::atomic::Ordering::Acquire) {
                tokio::time::sleep(crate::service::HANDOVER).await;
            }
            if let Err(e) = chat.user_disconnected(&user_id).await {
                tracing::warn!(error = %e, "presence update on disconnect failed");
            }
        });
    }
}
