//! `join-chat-rooms`: joins the rooms the user may join, replays what a rejoining client
//! missed (`lastSeq`), and answers `chat-rooms-joined` once the node receives those
//! rooms' traffic.
//!
//! Catch-up: the messages after each room's `lastSeq` are replayed as `new-chat-message`
//! (tombstones included) in `seq` order, before `chat-rooms-joined`; beyond
//! `REPLAY_MAX` per room, or past the join's catch-up budget (`budget`), the client is told
//! where to page on with `GET /chat/rooms/{id}/messages?after=`.

use std::collections::HashMap;
use std::sync::Arc;

use socketio_server::Socket;

use super::budget::Budget;
use crate::backplane::{keys, Target};
use crate::domain::error::AppResult;
use crate::domain::events::{CatchUp, ChatRoomsJoined, NewChatMessage, Rejected};
use crate::domain::requests::JoinRooms;
use crate::domain::{HistoryQueryDir, Principal};
use crate::service::Chat;

/// Most messages replayed per room; more must be paged over REST.
pub const REPLAY_MAX: i64 = 200;

fn not_found(room_id: String) -> Rejected {
    Rejected {
        room_id,
        code: "room_not_found",
    }
}

pub async fn join(
    chat: &Chat,
    p: &Principal,
    socket: &Arc<Socket>,
    req: JoinRooms,
) -> AppResult<ChatRoomsJoined> {
    req.validate(&chat.limits)?;
    let mut ids: Vec<String> = Vec::with_capacity(req.room_ids.len());
    for id in req.room_ids.iter().cloned() {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let ok = chat
        .store
        .joinable_rooms(&p.user_id, p.is_admin(), &ids)
        .await?;
    let mut joined = Vec::with_capacity(ok.len());
    let mut rejected = Vec::new();
    // With a catch-up, live traffic waits until the replay is out (in seq order).
    let catching_up = !req.last_seq.is_empty() || !req.last_change_seq.is_empty();
    let hold = catching_up.then(|| socket.hold());
    for id in ids {
        if ok.contains(&id) {
            let name = keys::room(&id);
            if !socket.in_room(&name) {
                // Subscribed before joined: nothing published after the confirmation is missed.
                chat.backplane.subscribe(Target::Room(id.clone())).await;
                if !chat.io.join(socket, &name) {
                    // It closed meanwhile: nothing will release this subscription later.
                    chat.backplane.unsubscribe(Target::Room(id.clone()));
                }
            }
            joined.push(id);
        } else {
            rejected.push(not_found(id));
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
                if chat.io.leave(socket, &keys::room(id)) {
                    chat.backplane.unsubscribe(Target::Room(id.clone()));
                }
                rejected.push(not_found(id.clone()));
            }
            keep
        });
    }
    let catch_up = replay(chat, socket, &joined, &req.last_seq).await?;
    let change_catch_up = match catching_up {
        true => Some(super::changes::replay(chat, socket, &joined, &req).await?),
        false => None,
    };
    drop(hold);
    let answer = ChatRoomsJoined {
        room_ids: joined,
        rejected,
        catch_up: (!req.last_seq.is_empty()).then_some(catch_up),
        change_catch_up,
    };
    if super::send(socket, &answer).is_err() {
        tracing::debug!("chat-rooms-joined not sent: the socket closed");
    }
    Ok(answer)
}

/// Replays, on this socket, what each joined room holds after the client's `lastSeq`.
/// Runs after the socket joined the rooms, so nothing falls between the replay and
/// live delivery (a message at the boundary may come twice: clients dedupe by id); the
/// join holds the socket's live traffic meanwhile, so it follows the replay.
async fn replay(
    chat: &Chat,
    socket: &Arc<Socket>,
    joined: &[String],
    last_seq: &HashMap<String, i64>,
) -> AppResult<Vec<CatchUp>> {
    let mut out = Vec::new();
    let mut budget = Budget::new(chat.limits.catch_up);
    for room_id in joined {
        let Some(&after) = last_seq.get(room_id) else {
            continue;
        };
        let limit = REPLAY_MAX.min(budget.messages_left() as i64);
        if limit == 0 {
            out.push(CatchUp {
                room_id: room_id.clone(),
                after_seq: after,
                replayed: 0,
                complete: false,
                next_after: Some(after),
            });
            continue;
        }
        let mut page = chat
            .store
            .history(room_id, HistoryQueryDir::After(after), limit)
            .await?;
        chat.decorate(&mut page.messages).await?;
        let mut sent = 0;
        for m in &page.messages {
            let packet = crate::service::encode(&NewChatMessage(m));
            // A socket too slow to take the replay is closed (its client reconnects).
            if !budget.take(packet.len()) || socket.send(&packet).is_err() {
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
