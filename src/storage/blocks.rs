//! 1:1 rooms: blocks by a member, and what the personal-room policy and the hiding of
//! names need to know about a pair of users.

use super::{with_pool, Store};
use crate::domain::Role;

impl Store {
    /// Records that `blocker` blocks the 1:1 room (idempotent).
    pub async fn block_room(
        &self,
        room_id: &str,
        blocker: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, p => sqlx::query(
            "INSERT INTO room_blocks (room_id, blocker_id, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (room_id, blocker_id) DO NOTHING",
        )
        .bind(room_id)
        .bind(blocker)
        .bind(now)
        .execute(p)
        .await
        .map(|_| ()))
    }

    /// Lifts `blocker`'s block of the room; true if there was one.
    pub async fn unblock_room(&self, room_id: &str, blocker: &str) -> Result<bool, sqlx::Error> {
        with_pool!(self, p => sqlx::query("DELETE FROM room_blocks WHERE room_id = $1 AND blocker_id = $2")
            .bind(room_id)
            .bind(blocker)
            .execute(p)
            .await
            .map(|r| r.rows_affected() > 0))
    }

    /// Whether someone other than `user` blocks the room.
    pub async fn blocked_for(&self, room_id: &str, user: &str) -> Result<bool, sqlx::Error> {
        with_pool!(self, p => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM room_blocks WHERE room_id = $1 AND blocker_id <> $2",
        )
        .bind(room_id)
        .bind(user)
        .fetch_one(p)
        .await
        .map(|n| n > 0))
    }

    /// Whether the two users are both members of some group room.
    pub async fn share_group_room(&self, a: &str, b: &str) -> Result<bool, sqlx::Error> {
        with_pool!(self, p => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM room_members m
             JOIN room_members o ON o.room_id = m.room_id
             JOIN rooms r ON r.id = m.room_id
             WHERE m.user_id = $1 AND o.user_id = $2 AND r.kind = 'group'",
        )
        .bind(a)
        .bind(b)
        .fetch_one(p)
        .await
        .map(|n| n > 0))
    }

    /// Whether `user` has sent a message in the room.
    pub async fn has_sent(&self, room_id: &str, user: &str) -> Result<bool, sqlx::Error> {
        with_pool!(self, p => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE room_id = $1 AND sender_id = $2 LIMIT 1) x",
        )
        .bind(room_id)
        .bind(user)
        .fetch_one(p)
        .await
        .map(|n| n > 0))
    }

    /// The platform role classchat last saw in a token of this user, if any.
    pub async fn role_of(&self, user: &str) -> Result<Option<Role>, sqlx::Error> {
        with_pool!(self, p => sqlx::query_scalar::<_, Option<String>>("SELECT role FROM users WHERE id = $1")
            .bind(user)
            .fetch_optional(p)
            .await
            .map(|r| r.flatten().as_deref().and_then(Role::parse)))
    }
}
