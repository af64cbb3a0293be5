//! The change-log part of a rejoin's catch-up: the deletions and edits a room logged after
//! the client's `lastChangeSeq` are replayed as `chat-message-deleted` and
//! `chat-message-edited` with the current content (in change order,
//! after the message replay, before `chat-rooms-joined`), and every room the catch-up
//! names reports its last change `seq`, for the client's next rejoin.

use std::sync::Arc;

use socketio_server::Socket;

use super::join::REPLAY_MAX;
use crate::domain::error::AppResult;
use crate::domain::events::ChangeCatchUp;
use crate::domain::requests::JoinRooms;
use crate::service::{change_packet, Chat};

/// Replays, on this socket, each joined room's changes after the client's
/// `lastChangeSeq`; rooms named in `lastSeq` or `lastChangeSeq` get an entry.
pub async fn replay(
    chat: &Chat,
    socket: &Arc<Socket>,
    joined: &[String],
    req: &JoinRooms,
) -> AppResult<Vec<ChangeCatchUp>> {
    let rooms: Vec<String> = joined
        .iter()
        .filter(|r| req.last_seq.contains_key(*r) || req.last_change_seq.contains_key(*r))
        .cloned()
        .collect();
    // Read after the socket joined: a change logged later comes live.
    let heads = chat.store.room_heads(&rooms).await?;
    let mut out = Vec::with_capacity(rooms.len());
    for (room_id, _, head) in heads {
        let after = req.last_change_seq.get(&room_id).copied();
        let mut entry = ChangeCatchUp {
            room_id,
            after_change_seq: after,
            replayed: 0,
            last_change_seq: head,
            complete: true,
        };
        if let Some(after) = after.filter(|a| *a < head) {
            let changes = chat
                .store
                .changes_between(&entry.room_id, after, head, REPLAY_MAX)
                .await?;
            let all = changes.len() as i64 == head - after;
            for c in changes {
                // A socket too slow to take the replay is closed (its client reconnects).
                if socket.send(&change_packet(&entry.room_id, c)).is_err() {
                    break;
                }
                entry.replayed += 1;
            }
            entry.complete = all && entry.replayed as i64 == head - after;
        }
        out.push(entry);
    }
    Ok(out)
}
