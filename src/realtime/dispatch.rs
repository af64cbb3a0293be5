//! Event dispatch: each known event is queued on its socket's session and run in order.

use std::sync::Arc;

use serde_json::Value;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use socketioxide::handler::message::{FromMessageParts, MessageHandler};
use socketioxide::handler::Value as WireValue;
use socketioxide::socket::Socket;

use super::events::*;
use super::handlers;
use super::session::{Job, Session};
use crate::error::AppError;
use crate::http::AppState;

/// Every client→server event of the contract.
const EVENTS: [&str; 7] = [
    JOIN_CHAT_ROOMS,
    LEAVE_CHAT_ROOM,
    CHAT_TYPING,
    MARK_MESSAGES_SEEN,
    UPDATE_CHAT_STATUS,
    GET_ROOM_ONLINE_USERS,
    SEND_CHAT_MESSAGE,
];

/// Marks our handler type for socketioxide's `MessageHandler` trait.
pub struct Ordered;

/// Receives one event synchronously (no task per event) and queues it.
struct Route {
    event: &'static str,
    state: Arc<AppState>,
}

impl MessageHandler<LocalAdapter, Ordered> for Route {
    fn call(&self, s: Arc<Socket<LocalAdapter>>, mut v: WireValue, ack_id: Option<i64>) {
        let Ok(socket) = SocketRef::from_message_parts(&s, &mut v, &ack_id);
        let Ok(ack) = AckSender::from_message_parts(&s, &mut v, &ack_id);
        let Ok(TryData(payload)) = TryData::<Value>::from_message_parts(&s, &mut v, &ack_id);
        metrics::counter!("classchat_socket_events_total", "event" => self.event).increment(1);
        let Some(session) = socket.extensions.get::<Arc<Session>>() else {
            return;
        };
        let job = Job {
            event: self.event,
            payload: payload.ok(),
            socket,
            ack,
        };
        match session.push(job) {
            Ok(true) => {
                tokio::spawn(drain(session, self.state.clone()));
            }
            Ok(false) => {}
            Err(job) => {
                metrics::counter!("classchat_socket_events_refused_total", "reason" => "queue_full").increment(1);
                let _ = job.ack.send(&AppError::rate_limited(1).to_ack());
            }
        }
    }
}

/// Unknown events: answered with `unknown_event` if the client waits for an ack.
struct Unknown;

impl MessageHandler<LocalAdapter, Ordered> for Unknown {
    fn call(&self, s: Arc<Socket<LocalAdapter>>, mut v: WireValue, ack_id: Option<i64>) {
        metrics::counter!("classchat_socket_events_total", "event" => "unknown").increment(1);
        let Ok(ack) = AckSender::from_message_parts(&s, &mut v, &ack_id);
        let _ = ack.send(&AppError::bad_request("unknown_event", "no such event").to_ack());
    }
}

/// socketioxide marks a socket connected only just after it has sent the CONNECT
/// packet, so a client's first event can arrive a moment before; `emit` to the socket
/// would fail then. Waits out that moment (bounded: a closed socket never turns).
async fn settle(socket: &SocketRef) {
    for _ in 0..200 {
        if socket.connected() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

async fn drain(session: Arc<Session>, state: Arc<AppState>) {
    while let Some(job) = session.next() {
        settle(&job.socket).await;
        let start = std::time::Instant::now();
        let event = job.event;
        let reply = handlers::handle(&state, &session, &job).await;
        let body = match &reply {
            Ok(data) => serde_json::json!({ "ok": true, "data": data }),
            Err(e) => {
                metrics::counter!("classchat_socket_errors_total", "event" => event, "code" => e.code).increment(1);
                e.to_ack()
            }
        };
        let _ = job.ack.send(&body);
        metrics::histogram!("classchat_socket_event_duration_seconds", "event" => event)
            .record(start.elapsed().as_secs_f64());
    }
}

/// Installs the handlers on a socket (called from the connect middleware).
pub fn install(socket: &SocketRef, state: Arc<AppState>) {
    for event in EVENTS {
        socket.on(
            event,
            Route {
                event,
                state: state.clone(),
            },
        );
    }
    socket.on_fallback(Unknown);
}
