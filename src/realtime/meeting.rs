//! Meeting events of one socket: `meeting-join` puts the socket in the room's channel
//! and in its own peer's, then joins it; the other events act as the socket's peer;
//! at disconnect the socket's peers leave.

use std::sync::Arc;

use serde_json::Value;
use socketio_server::Socket;

use super::handlers::ack;
use super::session::Session;
use crate::backplane::{keys, Target};
use crate::domain::error::AppResult;
use crate::domain::meeting::LeftReason;
use crate::domain::requests::{
    MeetingHostActionReq, MeetingJoin, MeetingMedia, MeetingSignalReq, RoomRef,
};
use crate::service::{not_in_meeting, Chat};

/// A new peer id: opaque, unguessable, not the Socket.IO id.
fn new_peer_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The socket's meeting and peer in a room; else `room_not_found` for a room the caller
/// may not see, `not_in_meeting` for one it may.
async fn peer_of(chat: &Chat, session: &Session, room_id: &str) -> AppResult<(String, String)> {
    match session.meeting(room_id) {
        Some(peer) => Ok(peer),
        None => {
            chat.access(&session.principal, room_id).await?;
            Err(not_in_meeting())
        }
    }
}

pub async fn join(
    chat: &Chat,
    session: &Session,
    socket: &Arc<Socket>,
    req: MeetingJoin,
) -> AppResult<Value> {
    let p = &session.principal;
    let (row, host) = chat.meeting_to_join(p, &req.room_id).await?;
    // Peers this socket left earlier: out of their channels now that their leaves are out.
    for old in session.take_parted() {
        chat.io.leave(socket, &keys::peer(&old));
    }
    if let Some((meeting_id, peer_id)) = session.meeting(&req.room_id) {
        if meeting_id == row.id {
            if let Some(again) = chat.meeting_ack_again(p, &row, &peer_id).await? {
                return ack(again);
            }
        }
        // Left behind by an ended meeting or a removal.
        session.take_meeting(&req.room_id);
        chat.io.leave(socket, &keys::peer(&peer_id));
    }
    let peer_id = new_peer_id();
    // In the room's channel and the peer's before anyone can learn of the peer.
    let room = keys::room(&req.room_id);
    let entered_room = !socket.in_room(&room);
    if entered_room {
        chat.backplane
            .subscribe(Target::Room(req.room_id.clone()))
            .await;
        if !chat.io.join(socket, &room) {
            chat.backplane
                .unsubscribe(Target::Room(req.room_id.clone()));
        }
    }
    chat.io.join(socket, &keys::peer(&peer_id));
    let joined = chat
        .join_meeting(p, &row, host, &peer_id, req.audio, req.video)
        .await;
    let answer = match joined {
        Ok(answer) => answer,
        Err(e) => {
            chat.io.leave(socket, &keys::peer(&peer_id));
            if entered_room && chat.io.leave(socket, &room) {
                chat.backplane
                    .unsubscribe(Target::Room(req.room_id.clone()));
            }
            return Err(e);
        }
    };
    session.set_meeting(&req.room_id, &row.id, &peer_id);
    // Closed while joining: its disconnect may have looked before the peer was recorded.
    if socket.is_closed() {
        chat.leave_meeting(&req.room_id, &row.id, &peer_id, LeftReason::Disconnected)
            .await?;
    }
    // Removed from the room while joining: the removal may have looked before the socket
    // was in the room's channel and the peer in the meeting.
    if !p.is_admin() {
        let ids = std::slice::from_ref(&req.room_id);
        if chat
            .store
            .joinable_rooms(&p.user_id, false, ids)
            .await?
            .is_empty()
        {
            session.take_meeting(&req.room_id);
            chat.leave_meeting(&req.room_id, &row.id, &peer_id, LeftReason::Removed)
                .await?;
            if chat.io.leave(socket, &room) {
                chat.backplane
                    .unsubscribe(Target::Room(req.room_id.clone()));
            }
            return Err(crate::domain::error::AppError::room_not_found());
        }
    }
    ack(answer)
}

pub async fn leave(chat: &Chat, session: &Session, req: RoomRef) -> AppResult<Value> {
    let (meeting_id, peer_id) = peer_of(chat, session, &req.room_id).await?;
    session.take_meeting(&req.room_id);
    // The socket stays in the peer's channel until its next join, so the announcement of
    // its own leave, delivered after this returns, still skips it.
    session.parted(&peer_id);
    let left = chat
        .leave_meeting(&req.room_id, &meeting_id, &peer_id, LeftReason::Left)
        .await;
    if !left? {
        return Err(not_in_meeting());
    }
    ack(serde_json::json!({ "roomId": req.room_id, "meetingId": meeting_id, "peerId": peer_id }))
}

pub async fn signal(chat: &Chat, session: &Session, req: MeetingSignalReq) -> AppResult<Value> {
    let (meeting_id, peer_id) = peer_of(chat, session, &req.room_id).await?;
    ack(chat
        .meeting_signal(&session.principal, &meeting_id, &peer_id, req)
        .await?)
}

pub async fn media(chat: &Chat, session: &Session, req: MeetingMedia) -> AppResult<Value> {
    let (meeting_id, peer_id) = peer_of(chat, session, &req.room_id).await?;
    let p = &session.principal;
    let state = chat
        .meeting_media(p, &req.room_id, &meeting_id, &peer_id, &req.patch)
        .await?;
    ack(crate::domain::events::MeetingMediaState::of(
        &req.room_id,
        &state,
    ))
}

pub async fn host_action(
    chat: &Chat,
    session: &Session,
    req: MeetingHostActionReq,
) -> AppResult<Value> {
    let (meeting_id, peer_id) = peer_of(chat, session, &req.room_id).await?;
    ack(chat
        .meeting_host_action(&session.principal, &meeting_id, &peer_id, req)
        .await?)
}

/// The socket closed: each of its peers leaves at once.
pub fn disconnected(chat: Arc<Chat>, session: &Session) {
    let peers = session.all_meetings();
    if peers.is_empty() {
        return;
    }
    tokio::spawn(async move {
        for (room_id, meeting_id, peer_id) in peers {
            if let Err(e) = chat
                .leave_meeting(&room_id, &meeting_id, &peer_id, LeftReason::Disconnected)
                .await
            {
                tracing::warn!(error = %e, "meeting leave at disconnect failed");
            }
        }
    });
}
