//! Presence in large rooms: past `CLASSCHAT_PRESENCE_COUNT_ABOVE` members, a member
//! coming or going is not told to every other member; each node instead sends its local
//! members the room's `room-online-count`, at most once per window. Also the encoder of
//! `chat-users-status-update` batches.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dashmap::DashMap;

use super::{encode, Chat};
use crate::backplane::StatusOptions;
use crate::domain::error::AppResult;
use crate::domain::events::{ChatUsersStatusUpdate, RoomOnlineCount, ServerEvent};
use crate::domain::Status;

/// How long a room's member list is reused for sizes and counts (membership changes
/// show in counts within this).
const MEMBERS_TTL: Duration = Duration::from_secs(10);
/// Rooms whose member lists are kept at most.
const MAX_ROOMS: usize = 20_000;

/// Member ids per room, briefly cached.
#[derive(Default)]
pub struct RoomMembers {
    rooms: DashMap<String, (Instant, Arc<Vec<String>>)>,
}

impl RoomMembers {
    fn get(&self, room: &str) -> Option<Arc<Vec<String>>> {
        let hit = self.rooms.get(room)?;
        (hit.0.elapsed() < MEMBERS_TTL).then(|| hit.1.clone())
    }

    fn put(&self, room: &str, ids: Arc<Vec<String>>) {
        if self.rooms.len() >= MAX_ROOMS {
            self.rooms.retain(|_, (at, _)| at.elapsed() < MEMBERS_TTL);
            if self.rooms.len() >= MAX_ROOMS {
                self.rooms.clear();
            }
        }
        self.rooms.insert(room.to_string(), (Instant::now(), ids));
    }

    /// Forgets a room whose membership changed on this node.
    pub fn forget(&self, room: &str) {
        self.rooms.remove(room);
    }
}

/// How status changes reach sockets: batches encoded as `chat-users-status-update`.
pub fn status_options(window: Duration) -> StatusOptions {
    StatusOptions {
        window,
        encode_batch: Arc::new(|items: Vec<Bytes>| {
            let users = items
                .into_iter()
                .filter_map(|b| String::from_utf8(b.to_vec()).ok())
                .filter_map(|s| serde_json::value::RawValue::from_string(s).ok())
                .collect();
            metrics::counter!("classchat_events_emitted_total", "event" => ChatUsersStatusUpdate::NAME)
                .increment(1);
            encode(&ChatUsersStatusUpdate { users })
        }),
    }
}

impl Chat {
    /// A room's member ids (cached for a few seconds).
    async fn member_ids(&self, room: &str) -> AppResult<Arc<Vec<String>>> {
        if let Some(ids) = self.room_members.get(room) {
            return Ok(ids);
        }
        let ids: Arc<Vec<String>> = Arc::new(
            self.store
                .members(room)
                .await?
                .into_iter()
                .map(|m| m.user_id)
                .collect(),
        );
        self.room_members.put(room, ids.clone());
        Ok(ids)
    }

    /// The rooms where each member is told of each other member (`small`), and those
    /// counted instead (`large`).
    pub(crate) async fn split_by_size(&self, rooms: Vec<String>) -> (Vec<String>, Vec<String>) {
        let above = self.limits.count_rooms_above;
        if above == 0 {
            return (rooms, Vec::new());
        }
        let (mut small, mut large) = (Vec::new(), Vec::new());
        for room in rooms {
            match self.member_ids(&room).await {
                Ok(ids) if ids.len() > above => large.push(room),
                // A room whose size cannot be read is treated as small: nobody misses a change.
                _ => small.push(room),
            }
        }
        (small, large)
    }

    /// Sends the online count of each large room marked since the last window to this
    /// node's members of it.
    pub async fn send_room_counts(&self) {
        for room in self.backplane.take_dirty_rooms() {
            let ids = match self.member_ids(&room).await {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::warn!(error = %e, "room count not sent");
                    continue;
                }
            };
            let states = self.presence.states(&ids).await;
            let online = states
                .iter()
                .filter(|(_, status)| *status != Status::Offline)
                .count();
            let count = RoomOnlineCount {
                room_id: room.clone(),
                online,
                members: ids.len(),
            };
            metrics::counter!("classchat_events_emitted_total", "event" => RoomOnlineCount::NAME)
                .increment(1);
            self.backplane.to_local_members(&room, encode(&count));
        }
    }
}

/// Sends the large rooms' counts once per window, for as long as the node runs.
pub async fn room_counts(chat: Arc<Chat>) {
    let mut tick = tokio::time::interval(chat.limits.presence_window);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        chat.send_room_counts().await;
    }
}
