//! The Socket.IO adapter on :4501: authentication at connect, then each event handed to
//! the shared services (`handlers`), and what a socket held released at disconnect.

mod budget;
mod changes;
mod deadlines;
mod expiry;
mod handlers;
mod join;
mod meeting;
mod observe;
mod session;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;
use socketio_server::{Args, Event, Handler, Handshake, Payload, SendError, Socket};

use crate::app::AppState;
use crate::auth::bearer;
use crate::backplane::{keys, Target};
use crate::domain::error::AppError;
use crate::domain::events::ServerEvent;
use expiry::Expiry;
use session::Session;

/// What the application keeps of a Socket.IO handshake request.
pub struct Client {
    /// The client's address (the load balancer's `X-Forwarded-For`, else the peer).
    pub addr: String,
    /// A token from `?token=` or an `Authorization: Bearer` header, if any.
    pub token: Option<String>,
    /// `?statusUpdates=batched`: status changes in batches (as `auth.statusUpdates`).
    pub batched: bool,
}

/// The `connect_error` body of a refused connection: socket.io-client shows
/// `err.message` and `err.data = { code, message }`.
#[derive(Serialize)]
struct Refused<'a> {
    message: &'a str,
    data: RefusedData<'a>,
}

#[derive(Serialize)]
struct RefusedData<'a> {
    code: &'a str,
    message: &'a str,
}

fn refused(e: AppError) -> Value {
    let body = Refused {
        message: &e.message,
        data: RefusedData {
            code: e.code,
            message: &e.message,
        },
    };
    serde_json::to_value(body).unwrap_or_default()
}

/// Sends a server event to one socket (not through the backplane).
pub(crate) fn send<E: ServerEvent>(socket: &Arc<Socket>, event: &E) -> Result<(), SendError> {
    socket.send(&crate::service::encode(event))
}

/// What the handshake request tells: the client's address, and a token from `?token=`
/// or an `Authorization: Bearer` header (for clients that cannot set `auth`).
pub fn handshake(parts: &axum::http::request::Parts) -> Handshake {
    let query = parts
        .uri
        .query()
        .map(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).unwrap_or_default())
        .unwrap_or_default();
    let batched = query
        .iter()
        .any(|(k, v)| k == "statusUpdates" && v == BATCHED);
    let from_query = query
        .into_iter()
        .find(|(k, _)| k == "token")
        .map(|(_, t)| t);
    let from_header = || {
        let h = parts.headers.get("authorization")?.to_str().ok()?;
        bearer(h).map(str::to_string)
    };
    Box::new(Client {
        addr: crate::app::client_addr(parts),
        token: from_query.or_else(from_header),
        batched,
    })
}

/// The opt-in value of `statusUpdates`: `chat-users-status-update` batches.
const BATCHED: &str = "batched";

/// The socket handler: connect, events, disconnect.
pub struct Realtime {
    state: Arc<AppState>,
    expiry: Arc<Expiry>,
    /// Connects handled at once (`CLASSCHAT_CONNECT_CONCURRENCY`).
    admit: Arc<tokio::sync::Semaphore>,
}

impl Realtime {
    pub fn new(state: Arc<AppState>) -> Arc<Self> {
        let lead = state.chat.limits.session_expiring_lead_secs;
        let expiry = Expiry::start(std::time::Duration::from_secs(lead));
        let admit = tokio::sync::Semaphore::new(state.chat.limits.connect_concurrency);
        Arc::new(Realtime {
            state,
            expiry,
            admit: Arc::new(admit),
        })
    }
}

/// Authenticates, then puts the socket in its user's channel and presence.
async fn connect(
    state: Arc<AppState>,
    socket: Arc<Socket>,
    auth: Option<Value>,
) -> Result<(), AppError> {
    let chat = &state.chat;
    let client = socket
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
    let verified = state.verifier.verify_until(&token)?;
    let expires_at_ms = (verified.expires_at as i64).saturating_mul(1000);
    // Within the verifier's leeway a token may be past its exp: no socket for it.
    if expires_at_ms <= crate::domain::time::now_ms() {
        return Err(AppError::unauthorized("token expired"));
    }
    let principal = verified.principal;
    chat.rate.connect(&principal.user_id).await?;
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
    let batched = client.batched
        || auth
            .as_ref()
            .and_then(|a| a.get("statusUpdates"))
            .and_then(Value::as_str)
            == Some(BATCHED);
    backplane.socket_opened(&user_id, rooms, batched).await;
    let session = Session::new(principal, addr, expires_at_ms, batched);
    socket.set_data(session.clone());
    chat.io.join(&socket, &keys::user(&user_id));
    chat.io.join(&socket, &keys::user_status(&user_id, batched));
    metrics::gauge!("classchat_socket_connections").increment(1.0);
    metrics::counter!("classchat_socket_connects_total").increment(1);
    if let Err(e) = chat.user_connected(&session.principal).await {
        tracing::warn!(error = %e, "presence update on connect failed");
    }
    Ok(())
}

impl Handler for Realtime {
    fn connect(
        &self,
        socket: Arc<Socket>,
        auth: Option<Value>,
    ) -> BoxFuture<'static, Result<(), Value>> {
        let state = self.state.clone();
        let admit = self.admit.clone();
        Box::pin(async move {
            let _permit = admit.acquire_owned().await;
            connect(state, socket, auth).await.map_err(refused)
        })
    }

    /// The token's count-down starts once the client knows it is connected.
    fn connected(&self, socket: Arc<Socket>) {
        if let Some(session) = socket.data::<Session>() {
            self.expiry.watch(&socket, session.expires_at_ms);
        }
    }

    fn event(&self, socket: Arc<Socket>, event: Event) -> BoxFuture<'static, Args> {
        // No event of the contract takes binary data: one that carries some has no
        // usable payload.
        let payload = match event.attachments().is_empty() {
            true => event.payload,
            false => Payload::Invalid,
        };
        let state = self.state.clone();
        Box::pin(async move {
            handlers::event(state, socket, event.name, payload)
                .await
                .into()
        })
    }

    fn busy(&self) -> Value {
        AppError::rate_limited(1).to_ack()
    }

    /// Releases what the socket held: its channels, its place in the member index and
    /// presence (handed over after a delay while the node drains).
    fn disconnect(&self, socket: Arc<Socket>, rooms: Vec<Arc<str>>) {
        let Some(session) = socket.data::<Session>() else {
            return;
        };
        let chat = self.state.chat.clone();
        let user_id = session.principal.user_id.clone();
        metrics::gauge!("classchat_socket_connections").decrement(1.0);
        meeting::disconnected(chat.clone(), &session);
        chat.backplane.socket_closed(&user_id, session.batched);
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
