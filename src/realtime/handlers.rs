//! Socket event handlers: thin adapters from payloads to the shared chat services.

use std::sync::Arc;

use serde_json::{json, Value};

use super::dispatch::Job;
use super::events::*;
use super::session::Session;
use crate::backplane::{keys, Target};
use crate::domain::requests::{
    parse, JoinRooms, RoomRef, SetStatus, SocketSeen, SocketSend, Typing,
};
use crate::error::{AppError, AppResult};
use crate::http::AppState;

fn payload(job: &Job) -> AppResult<Value> {
    job.payload.clone().ok_or_else(|| {
        AppError::bad_request("invalid_payload", "the event needs a JSON object payload")
    })
}

/// Runs one event; the result becomes the ack.
pub async fn handle(state: &Arc<AppState>, session: &Session, job: &Job) -> AppResult<Value> {
    let chat = &state.chat;
    let p = &session.principal;
    match job.event {
        JOIN_CHAT_ROOMS => join(state, session, job).await,
        LEAVE_CHAT_ROOM => {
            let req: RoomRef = parse(payload(job)?)?;
            if chat.io.leave(&job.conn, &keys::room(&req.room_id)) {
                chat.backplane
                    .unsubscribe(Target::Room(req.room_id.clone()));
            }
            Ok(json!({ "roomId": req.room_id }))
        }
        CHAT_TYPING => typing(state, session, job).await,
        MARK_MESSAGES_SEEN => {
            let req: SocketSeen = parse(payload(job)?)?;
            Ok(json!(chat.mark_seen(p, &req.room_id, req.seen).await?))
        }
        UPDATE_CHAT_STATUS => {
            let req: SetStatus = parse(payload(job)?)?;
            Ok(json!(chat.set_status(p, req.status()?).await?))
        }
        GET_ROOM_ONLINE_USERS => {
            let req: RoomRef = parse(payload(job)?)?;
            let online = chat.room_online_users(p, &req.room_id).await?;
            let _ = chat.io.emit(
                &job.conn,
                ROOM_ONLINE_USERS,
                &crate::service::event_body(&online),
            );
            Ok(json!(online))
        }
        SEND_CHAT_MESSAGE => {
            let req: SocketSend = parse(payload(job)?)?;
            chat.rate.send_from(&session.addr)?;
            let (msg, _) = chat.send_message(p, &req.room_id, req.message).await?;
            Ok(json!(msg))
        }
        _ => Err(AppError::bad_request("unknown_event", "no such event")),
    }
}

/// Joins the rooms the user may join; answers `chat-rooms-joined` once the
/// node receives those rooms' traffic.
async fn join(state: &Arc<AppState>, session: &Session, job: &Job) -> AppResult<Value> {
    let chat = &state.chat;
    let req: JoinRooms = parse(payload(job)?)?;
    req.validate(&chat.limits)?;
    let mut ids: Vec<String> = Vec::with_capacity(req.room_ids.len());
    for id in req.room_ids.iter().cloned() {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let p = &session.principal;
    let ok = chat
        .store
        .joinable_rooms(&p.user_id, p.is_admin(), &ids)
        .await?;
    let mut joined = Vec::with_capacity(ok.len());
    let mut rejected = Vec::new();
    // With a catch-up, live traffic waits until the replay is out (in seq order).
    let hold = (!req.last_seq.is_empty()).then(|| job.conn.hold());
    for id in ids {
        if ok.contains(&id) {
            let name = keys::room(&id);
            if !job.conn.in_room(&name) {
                // Subscribed before joined: nothing published after the confirmation is missed.
                chat.backplane.subscribe(Target::Room(id.clone())).await;
                if !chat.io.join(&job.conn, &name) {
                    // It closed meanwhile: nothing will release this subscription later.
                    chat.backplane.unsubscribe(Target::Room(id.clone()));
                }
            }
            joined.push(id);
        } else {
            rejected.push(json!({ "roomId": id, "code": "room_not_found" }));
        }
    }
    // A removal that committed while this join ran would have found the socket not yet
    // in the room: look again now that it is, and leave what is no longer ours.
    if !p.is_admin() && !joined.is_empty() {
        let still = chat
            .store
            .joinable_rooms(&p.user_id, false, &joined)
            .await?;
        joined.retain(|id| {
            let keep = still.contains(id);
            if !keep {
                if chat.io.leave(&job.conn, &keys::room(id)) {
                    chat.backplane.unsubscribe(Target::Room(id.clone()));
                }
                rejected.push(json!({ "roomId": id, "code": "room_not_found" }));
            }
            keep
        });
    }
    let catch_up = super::catchup::replay(chat, &job.conn, &joined, &req.last_seq).await?;
    drop(hold);
    let mut data = json!({ "roomIds": joined, "rejected": rejected });
    if !req.last_seq.is_empty() {
        data["catchUp"] = json!(catch_up);
    }
    if chat
        .io
        .emit(
            &job.conn,
            CHAT_ROOMS_JOINED,
            &crate::service::event_body(&data),
        )
        .is_err()
    {
        tracing::debug!("chat-rooms-joined not sent: the socket closed");
    }
    Ok(data)
}

/// Typing indicator with a server-side auto-stop.
async fn typing(state: &Arc<AppState>, session: &Session, job: &Job) -> AppResult<Value> {
    let chat = state.chat.clone();
    let p = &session.principal;
    let req: Typing = parse(payload(job)?)?;
    chat.rate.typing(&p.user_id)?;
    chat.rate.typing_from(&session.addr)?;
    // Membership is checked every time (not the socket's joined rooms): a member removed
    // a moment ago may still hold the room on a busy node.
    chat.access(p, &req.room_id).await?;
    let data = json!({
        "roomId": req.room_id, "userId": p.user_id, "userName": p.display_name(), "isTyping": req.is_typing,
    });
    let target = Target::Room(req.room_id.clone());
    if req.is_typing {
        let generation = chat.typing.start(&req.room_id, &p.user_id);
        let (room_id, user_id) = (req.room_id.clone(), p.user_id.clone());
        let mut stop = data.clone();
        stop["isTyping"] = json!(false);
        let chat2 = chat.clone();
        tokio::spawn(async move {
            tokio::time::sleep(chat2.typing.timeout).await;
            if chat2.typing.expire(&room_id, &user_id, generation) {
                chat2
                    .emit(
                        Target::Room(room_id),
                        Some(&user_id),
                        CHAT_USER_TYPING,
                        &stop,
                    )
                    .await;
            }
        });
    } else {
        chat.typing.stop(&req.room_id, &p.user_id);
    }
    chat.emit(target, Some(&p.user_id), CHAT_USER_TYPING, &data)
        .await;
    Ok(json!({ "roomId": req.room_id, "isTyping": req.is_typing }))
}
