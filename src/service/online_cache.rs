//! A short-lived cache of `get-room-online-users` answers per room, so repeated queries
//! of a large room cost one member and presence read per room and period.

use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::domain::events::RoomOnlineUsers;

/// Rooms kept at most; past it, expired answers are dropped, then all.
const MAX_ROOMS: usize = 10_000;

#[derive(Default)]
pub struct OnlineCache {
    rooms: DashMap<String, (Instant, RoomOnlineUsers)>,
}

impl OnlineCache {
    /// The room's answer if it is younger than `ttl`.
    pub fn get(&self, room_id: &str, ttl: Duration) -> Option<RoomOnlineUsers> {
        let hit = self.rooms.get(room_id)?;
        (hit.0.elapsed() < ttl).then(|| hit.1.clone())
    }

    /// Keeps an answer (not when caching is off).
    pub fn put(&self, room_id: &str, answer: &RoomOnlineUsers, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        if self.rooms.len() >= MAX_ROOMS {
            self.rooms.retain(|_, (at, _)| at.elapsed() < ttl);
            if self.rooms.len() >= MAX_ROOMS {
                self.rooms.clear();
            }
        }
        self.rooms
            .insert(room_id.to_string(), (Instant::now(), answer.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_reused_until_it_expires() {
        let c = OnlineCache::default();
        let a = RoomOnlineUsers {
            room_id: "r".into(),
            users: vec![],
        };
        let ttl = Duration::from_millis(50);
        c.put("r", &a, ttl);
        assert!(c.get("r", ttl).is_some());
        std::thread::sleep(ttl);
        assert!(c.get("r", ttl).is_none());
        c.put("r", &a, Duration::ZERO);
        assert!(c.get("r", ttl).is_none());
    }
}
