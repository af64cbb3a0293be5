//! Event dispatch: a known event runs its handler (events of one socket run one at a
//! time, in the order it sent them); the result becomes the ack.

use std::sync::Arc;

use serde_json::Value;

use super::events::*;
use super::handlers;
use super::session::Session;
use crate::error::AppError;
use crate::http::AppState;
use socketio_server::{Payload, Socket as Conn};

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

/// One received event: which, its payload, and who sent it.
pub struct Job {
    pub event: &'static str,
    pub payload: Option<Value>,
    pub conn: Arc<Conn>,
}

/// Runs one event and answers with its ack body.
pub async fn event(state: Arc<AppState>, conn: Arc<Conn>, name: String, payload: Payload) -> Value {
    let Some(event) = EVENTS.into_iter().find(|e| *e == name) else {
        metrics::counter!("classchat_socket_events_total", "event" => "unknown").increment(1);
        return AppError::bad_request("unknown_event", "no such event").to_ack();
    };
    metrics::counter!("classchat_socket_events_total", "event" => event).increment(1);
    let Some(session) = conn.data::<Session>() else {
        return AppError::unauthorized("not connected").to_ack();
    };
    let job = Job {
        event,
        payload: match payload {
            Payload::Json(v) => Some(v),
            Payload::Missing | Payload::Invalid => None,
        },
        conn,
    };
    let start = std::time::Instant::now();
    let reply = handlers::handle(&state, &session, &job).await;
    let body = match &reply {
        Ok(data) => serde_json::json!({ "ok": true, "data": data }),
        Err(e) => {
            metrics::counter!("classchat_socket_errors_total", "event" => event, "code" => e.code)
                .increment(1);
            e.to_ack()
        }
    };
    metrics::histogram!("classchat_socket_event_duration_seconds", "event" => event)
        .record(start.elapsed().as_secs_f64());
    body
}
