//! Catch-up on rejoin: a client that reconnects sends `lastSeq: { roomId: seq }` with
//! `join-chat-rooms`, and gets what it missed replayed as `new-chat-message` events
//! (tombstones included) in `seq` order, before `chat-rooms-joined`. Beyond
//! `REPLAY_MAX` messages per room it is told where to page on with
//! `GET /chat/rooms/{id}/messages?after=`.

use std::collections::HashMap;

use serde::Serialize;
use socketioxide::extract::SocketRef;

use super::events::NEW_CHAT_MESSAGE;
use crate::domain::HistoryQueryDir;
use crate::error::AppResult;
use crate::service::{event_body, Chat};

/// Most messages replayed per room; more must be paged over REST.
pub const REPLAY_MAX: i64 = 200;

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct CatchUp {
    pub room_id: String,
    /// The `lastSeq` the client sent.
    pub after_seq: i64,
    /// Messages replayed on this socket.
    pub replayed: usize,
    /// False when more were missed than replayed: page on from `nextAfter`.
    pub complete: bool,
    pub next_after: Option<i64>,
}

/// Replays, on this socket, what each joined room holds after the client's `lastSeq`.
/// Runs after the socket joined the rooms, so nothing falls between the replay and
/// live delivery (a message at the boundary may come twice: clients dedupe by id).
pub async fn replay(
    chat: &Chat,
    socket: &SocketRef,
    joined: &[String],
    last_seq: &HashMap<String, i64>,
) -> AppResult<Vec<CatchUp>> {
    let mut out = Vec::new();
    for room_id in joined {
        let Some(&after) = last_seq.get(room_id) else {
            continue;
        };
        let page = chat
            .store
            .history(room_id, HistoryQueryDir::After(after), REPLAY_MAX)
            .await?;
        for m in &page.messages {
            if let Err(e) = socket.emit(NEW_CHAT_MESSAGE, &event_body(m)) {
                tracing::debug!(error = %e, "catch-up replay interrupted");
                break;
            }
        }
        metrics::counter!("classchat_catchup_replayed_total").increment(page.messages.len() as u64);
        out.push(CatchUp {
            room_id: room_id.clone(),
            after_seq: after,
            replayed: page.messages.len(),
            complete: page.next_cursor.is_none(),
            next_after: page.next_cursor,
        });
    }
    Ok(out)
}
