//! Catch-up on rejoin: a client that reconnects sends `lastSeq: { roomId: seq }` with
//! `join-chat-rooms`, and gets what it missed replayed as `new-chat-message` events
//! (tombstones included) in `seq` order, before `chat-rooms-joined`. Beyond
//! `REPLAY_MAX` messages per room it is told where to page on with
//! `GET /chat/rooms/{id}/messages?after=`.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::events::NEW_CHAT_MESSAGE;
use crate::domain::HistoryQueryDir;
use crate::error::AppResult;
use crate::service::{event_body, Chat};
use socketio_server::Socket as Conn;

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
/// live delivery (a message at the boundary may come twice: clients dedupe by id); the
/// join holds the socket's live traffic meanwhile, so it follows the replay.
pub async fn replay(
    chat: &Chat,
    conn: &Arc<Conn>,
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
        let mut sent = 0;
        for m in &page.messages {
            // A socket too slow to take the replay is closed (its client reconnects).
            if chat
                .io
                .emit(conn, NEW_CHAT_MESSAGE, &event_body(m))
                .is_err()
            {
                break;
            }
            sent += 1;
        }
        metrics::counter!("classchat_catchup_replayed_total").increment(sent as u64);
        let all_sent = sent == page.messages.len();
        out.push(CatchUp {
            room_id: room_id.clone(),
            after_seq: after,
            replayed: sent,
            complete: all_sent && page.next_cursor.is_none(),
            next_after: if all_sent {
                page.next_cursor
            } else {
                Some(sent.checked_sub(1).map_or(after, |i| page.messages[i].seq))
            },
        });
    }
    Ok(out)
}
