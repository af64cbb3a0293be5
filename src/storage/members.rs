//! Room membership: roles, members with their read pointers, adding and removing, and which
//! rooms a user may join.

use super::{with_pool, Store};
use crate::domain::{Member, Role, RoomRole};

#[derive(sqlx::FromRow)]
struct MemberRow {
    user_id: String,
    name: Option<String>,
    role: Option<String>,
    room_role: String,
    last_read_seq: i64,
    joined_at: i64,
}

impl Store {
    /// The user's role in the room, or `None` if not a member.
    pub async fn membership(
        &self,
        room_id: &str,
        user_id: &str,
    ) -> Result<Option<RoomRole>, sqlx::Error> {
        with_pool!(self, p => sqlx::query_scalar::<_, String>(
            "SELECT room_role FROM room_members WHERE room_id = $1 AND user_id = $2",
        )
        .bind(room_id)
        .bind(user_id)
        .fetch_optional(p)
        .await
        .map(|r| r.map(|s| RoomRole::parse(&s))))
    }

    /// Every member, in join order.
    pub async fn members(&self, room_id: &str) -> Result<Vec<Member>, sqlx::Error> {
        self.members_page(room_id, None, i64::MAX).await
    }

    /// Up to `limit` members in join order, after the cursor `(joined_at, user_id)`.
    pub async fn members_page(
        &self,
        room_id: &str,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<Member>, sqlx::Error> {
        let (at, id) = after.unwrap_or((i64::MIN, String::new()));
        let rows: Vec<MemberRow> = with_pool!(self, p => sqlx::query_as::<_, MemberRow>(
            "SELECT m.user_id, u.name, u.role, m.room_role, m.last_read_seq, m.joined_at
             FROM room_members m LEFT JOIN users u ON u.id = m.user_id
             WHERE m.room_id = $1 AND (m.joined_at > $2 OR (m.joined_at = $2 AND m.user_id > $3))
             ORDER BY m.joined_at, m.user_id LIMIT $4",
        )
        .bind(room_id)
        .bind(at)
        .bind(&id)
        .bind(limit)
        .fetch_all(p)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|r| Member {
                user_id: r.user_id,
                name: r.name,
                role: r.role.as_deref().and_then(Role::parse),
                room_role: RoomRole::parse(&r.room_role),
                last_read_seq: r.last_read_seq,
                joined_at: r.joined_at,
            })
            .collect())
    }

    /// How many members the room has.
    pub async fn member_count(&self, room_id: &str) -> Result<i64, sqlx::Error> {
        with_pool!(self, p => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM room_members WHERE room_id = $1",
        )
        .bind(room_id)
        .fetch_one(p)
        .await)
    }

    /// Adds members; returns the ids that were not members before, or `None` (nothing
    /// added) if the room would have more than `cap` members. Concurrent adds to one
    /// room are serialized on its row, so the cap holds.
    pub async fn add_members(
        &self,
        room_id: &str,
        ids: &[String],
        now: i64,
        cap: usize,
    ) -> Result<Option<Vec<String>>, sqlx::Error> {
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("UPDATE rooms SET last_seq = last_seq WHERE id = $1")
                .bind(room_id)
                .execute(&mut *tx)
                .await?;
            let mut added = Vec::new();
            for id in ids {
                sqlx::query("INSERT INTO users (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let r = sqlx::query(
                    "INSERT INTO room_members (room_id, user_id, room_role, last_read_seq, joined_at)
                     VALUES ($1, $2, 'member', 0, $3) ON CONFLICT (room_id, user_id) DO NOTHING",
                )
                .bind(room_id)
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if r.rows_affected() == 1 {
                    added.push(id.clone());
                }
            }
            if !added.is_empty() {
                let n = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM room_members WHERE room_id = $1")
                    .bind(room_id)
                    .fetch_one(&mut *tx)
                    .await?;
                if n as usize > cap {
                    tx.rollback().await?;
                    return Ok(None);
                }
            }
            tx.commit().await?;
            Ok(Some(added))
        })
    }

    /// Removes a member; if the owner leaves, the longest-standing member becomes owner.
    pub async fn remove_member(&self, room_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let role = sqlx::query_scalar::<_, String>(
                "DELETE FROM room_members WHERE room_id = $1 AND user_id = $2 RETURNING room_role",
            )
            .bind(room_id)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
            if role.as_deref() == Some("owner") {
                sqlx::query(
                    "UPDATE room_members SET room_role = 'owner' WHERE room_id = $1 AND user_id = (
                       SELECT user_id FROM room_members WHERE room_id = $1
                       ORDER BY CASE room_role WHEN 'admin' THEN 0 ELSE 1 END, joined_at, user_id LIMIT 1)",
                )
                .bind(room_id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(role.is_some())
        })
    }

    /// Every room of each user, in one query.
    pub async fn rooms_of_many(
        &self,
        user_ids: &[String],
    ) -> Result<std::collections::HashMap<String, Vec<String>>, sqlx::Error> {
        let mut out: std::collections::HashMap<String, Vec<String>> =
            user_ids.iter().map(|u| (u.clone(), Vec::new())).collect();
        if user_ids.is_empty() {
            return Ok(out);
        }
        let rows: Vec<(String, String)> = with_pool!(self, p => {
            let mut qb = sqlx::QueryBuilder::new("SELECT user_id, room_id FROM room_members WHERE user_id IN (");
            let mut sep = qb.separated(", ");
            for id in user_ids {
                sep.push_bind(id);
            }
            qb.push(")");
            qb.build_query_as::<(String, String)>().fetch_all(p).await
        })?;
        for (user, room) in rows {
            out.entry(user).or_default().push(room);
        }
        Ok(out)
    }

    /// Of `room_ids`, the ones this user may join: existing rooms for admins,
    /// rooms they belong to for everyone else.
    pub async fn joinable_rooms(
        &self,
        user_id: &str,
        admin: bool,
        room_ids: &[String],
    ) -> Result<Vec<String>, sqlx::Error> {
        if room_ids.is_empty() {
            return Ok(Vec::new());
        }
        with_pool!(self, p => {
            let mut qb = if admin {
                sqlx::QueryBuilder::new("SELECT id FROM rooms WHERE id IN (")
            } else {
                let mut qb = sqlx::QueryBuilder::new("SELECT room_id FROM room_members WHERE user_id = ");
                qb.push_bind(user_id);
                qb.push(" AND room_id IN (");
                qb
            };
            let mut sep = qb.separated(", ");
            for id in room_ids {
                sep.push_bind(id);
            }
            qb.push(")");
            qb.build_query_scalar::<String>().fetch_all(p).await
        })
    }
}
