//! Socket events: each name is parsed once into the contract's `ClientEvent`, run by the
//! shared services (events of one socket one at a time, in the order sent), and the
//! result becomes the ack `{ ok: true, data }` or `{ ok: false, error }`.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use socketio_server::{Payload, Socket};
use tracing::Instrument;

use super::session::Session;
use crate::app::AppState;
use crate::backplane::{keys, Target};
use crate::domain::error::{AppError, AppResult};
use crate::domain::events::{ClientEvent, ClientEventName};

/// A successful ack: `{ ok: true, data }`.
#[derive(Serialize)]
struct Done<T> {
    ok: bool,
    data: T,
}

pub(super) fn ack<T: Serialize>(data: T) -> AppResult<Value> {
    serde_json::to_value(Done { ok: true, data }).map_err(|e| AppError::internal(e.to_string()))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Left {
    room_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TypingSet {
    room_id: String,
    is_typing: bool,
}

/// Runs one event and answers with its ack body, inside a `socket_event` span
/// (`super::observe`).
pub async fn event(
    state: Arc<AppState>,
    socket: Arc<Socket>,
    name: String,
    payload: Payload,
) -> Value {
    let event = ClientEventName::of(&name);
    let span = super::observe::event_span(event, &payload);
    run(state, socket, event, payload).instrument(span).await
}

async fn run(
    state: Arc<AppState>,
    socket: Arc<Socket>,
    event: Option<ClientEventName>,
    payload: Payload,
) -> Value {
    let Some(event) = event else {
        metrics::counter!("classchat_socket_events_total", "event" => "unknown").increment(1);
        return AppError::bad_request("unknown_event", "no such event").to_ack();
    };
    let label = event.as_str();
    metrics::counter!("classchat_socket_events_total", "event" => label).increment(1);
    let Some(session) = socket.data::<Session>() else {
        return AppError::unauthorized("not connected").to_ack();
    };
    tracing::Span::current().record("user_id", session.principal.user_id.as_str());
    // Between `exp` and the disconnect that follows it, the token grants nothing.
    if session.expired() {
        return AppError::unauthorized("token expired").to_ack();
    }
    let payload = match payload {
        Payload::Json(v) => Some(v),
        Payload::Missing | Payload::Invalid => None,
    };
    let start = std::time::Instant::now();
    let reply = match event.parse(payload) {
        Ok(event) => handle(&state, &session, &socket, event).await,
        Err(e) => Err(e),
    };
    let code = reply.as_ref().err().map(|e| e.code);
    let body = reply.unwrap_or_else(|e| {
        metrics::counter!("classchat_socket_errors_total", "event" => label, "code" => e.code)
            .increment(1);
        e.to_ack()
    });
    let elapsed = start.elapsed();
    metrics::histogram!("classchat_socket_event_duration_seconds", "event" => label)
        .record(elapsed.as_secs_f64());
    super::observe::answered(code, elapsed);
    body
}

/// One parsed event, run by the service it belongs to.
async fn handle(
    state: &Arc<AppState>,
    session: &Session,
    socket: &Arc<Socket>,
    event: ClientEvent,
) -> AppResult<Value> {
    let chat = &state.chat;
    let p = &session.principal;
    match event {
        ClientEvent::JoinChatRooms(req) => ack(super::join::join(chat, p, socket, req).await?),
        ClientEvent::LeaveChatRoom(req) => {
            if chat.io.leave(socket, &keys::room(&req.room_id)) {
                chat.backplane
                    .unsubscribe(Target::Room(req.room_id.clone()));
            }
            ack(Left {
                room_id: req.room_id,
            })
        }
        ClientEvent::ChatTyping(req) => {
            let set = TypingSet {
                room_id: req.room_id.clone(),
                is_typing: req.is_typing,
            };
            chat.set_typing(p, &session.addr, req).await?;
            ack(set)
        }
        ClientEvent::MarkMessagesSeen(req) => {
            ack(chat.mark_seen(p, &req.room_id, req.seen).await?)
        }
        ClientEvent::UpdateChatStatus(req) => ack(chat.set_status(p, req.status()?).await?),
        ClientEvent::GetRoomOnlineUsers(req) => {
            let online = chat.room_online_users(p, &req.room_id).await?;
            let _ = super::send(socket, &online);
            ack(online)
        }
        ClientEvent::SendChatMessage(req) => {
            chat.rate.send_from(&session.addr)?;
            let (msg, _) = chat.send_message(p, &req.room_id, req.message).await?;
            ack(msg)
        }
        ClientEvent::EditChatMessage(req) => ack(chat
            .edit_message(p, &req.room_id, &req.message_id, req.edit)
            .await?),
        ClientEvent::ReactChatMessage(req) => ack(chat
            .react(p, &req.room_id, &req.message_id, &req.emoji, req.action)
            .await?),
        ClientEvent::MeetingJoin(req) => super::meeting::join(chat, session, socket, req).await,
        ClientEvent::MeetingLeave(req) => super::meeting::leave(chat, session, req).await,
        ClientEvent::MeetingSignal(req) => super::meeting::signal(chat, session, req).await,
        ClientEvent::MeetingMediaState(req) => super::meeting::media(chat, session, req).await,
        ClientEvent::MeetingHostAction(req) => {
            super::meeting::host_action(chat, session, req).await
        }
    }
}
