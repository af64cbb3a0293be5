//! `get-room-online-users`: rate-limited per user, with a short-lived cache of answers
//! per room, so repeated queries of a large room cost one member and presence read per
//! room and period.

use std::time::{Duration, Instant};

use dashmap::DashMap;

use super::Chat;
use crate::domain::error::AppResult;
use crate::domain::events::{OnlineUser, RoomOnlineUsers};
use crate::domain::{Member, Principal, RoomKind, RoomRole, Status};

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

impl Chat {
    /// Members of the room who are online (any status but offline), cluster-wide.
    /// Rate-limited per user; one answer is reused for the same room for
    /// `CLASSCHAT_ONLINE_USERS_CACHE_MS`.
    pub async fn room_online_users(
        &self,
        p: &Principal,
        room_id: &str,
    ) -> AppResult<RoomOnlineUsers> {
        self.rate.online_users(&p.user_id).await?;
        let (room, _) = self.access(p, room_id).await?;
        let ttl = self.limits.online_users_cache;
        let mut answer = match self.online_cache.get(room_id, ttl) {
            Some(hit) => hit,
            None => {
                let fresh = self.compute_online_users(room_id).await?;
                self.online_cache.put(room_id, &fresh, ttl);
                fresh
            }
        };
        if room.kind == RoomKind::Personal && answer.users.iter().any(|u| u.name.is_some()) {
            // The same rule as the room detail: a stranger's name stays hidden.
            let mut members: Vec<Member> = Vec::new();
            for u in &answer.users {
                members.push(Member {
                    user_id: u.user_id.clone(),
                    name: u.name.clone(),
                    role: None,
                    room_role: RoomRole::Member,
                    last_read_seq: 0,
                    joined_at: 0,
                });
            }
            self.hide_strangers(p, &room, &mut members).await?;
            for (u, m) in answer.users.iter_mut().zip(members) {
                u.name = m.name;
            }
        }
        Ok(answer)
    }

    async fn compute_online_users(&self, room_id: &str) -> AppResult<RoomOnlineUsers> {
        let members = self.store.members(room_id).await?;
        let ids: Vec<String> = members.iter().map(|m| m.user_id.clone()).collect();
        let states = self.presence.states(&ids).await;
        let users = members
            .into_iter()
            .zip(states)
            .filter(|(_, (_, status))| *status != Status::Offline)
            .map(|(m, (_, status))| OnlineUser {
                user_id: m.user_id,
                name: m.name,
                status,
            })
            .collect();
        Ok(RoomOnlineUsers {
            room_id: room_id.to_string(),
            users,
        })
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
