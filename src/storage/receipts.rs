//! Read receipts: per-member read pointers that only move forward, and who has seen what.

use super::{with_pool, Store};

#[derive(sqlx::FromRow)]
pub struct SeenByRow {
    pub user_id: String,
    pub name: Option<String>,
    pub last_read_seq: i64,
    pub last_read_at: Option<i64>,
}

impl Store {
    /// Moves the read pointer forward to `up_to` (never back); true if it moved.
    pub async fn mark_seen(
        &self,
        room_id: &str,
        user_id: &str,
        up_to: i64,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        with_pool!(self, p => sqlx::query(
            "UPDATE room_members SET last_read_seq = $3, last_read_at = $4
             WHERE room_id = $1 AND user_id = $2 AND last_read_seq < $3",
        )
        .bind(room_id)
        .bind(user_id)
        .bind(up_to)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected() > 0))
    }

    /// The member's read pointer (0 when not a member).
    pub async fn read_pointer(&self, room_id: &str, user_id: &str) -> Result<i64, sqlx::Error> {
        with_pool!(self, p => sqlx::query_scalar::<_, i64>(
            "SELECT last_read_seq FROM room_members WHERE room_id = $1 AND user_id = $2",
        )
        .bind(room_id)
        .bind(user_id)
        .fetch_optional(p)
        .await
        .map(|v| v.unwrap_or(0)))
    }

    /// Which of these message ids are messages of this room, with their `seq`, lowest first.
    pub async fn seqs_of(
        &self,
        room_id: &str,
        ids: &[String],
    ) -> Result<Vec<(String, i64)>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        with_pool!(self, p => {
            let mut qb = sqlx::QueryBuilder::new("SELECT id, seq FROM messages WHERE room_id = ");
            qb.push_bind(room_id);
            qb.push(" AND id IN (");
            let mut sep = qb.separated(", ");
            for id in ids {
                sep.push_bind(id);
            }
            qb.push(") ORDER BY seq");
            qb.build_query_as::<(String, i64)>().fetch_all(p).await
        })
    }

    /// Members other than `except` whose read pointer covers `seq`.
    pub async fn seen_by(
        &self,
        room_id: &str,
        seq: i64,
        except: &str,
    ) -> Result<Vec<SeenByRow>, sqlx::Error> {
        with_pool!(self, p => sqlx::query_as::<_, SeenByRow>(
            "SELECT m.user_id, u.name, m.last_read_seq, m.last_read_at
             FROM room_members m LEFT JOIN users u ON u.id = m.user_id
             WHERE m.room_id = $1 AND m.last_read_seq >= $2 AND m.user_id <> $3
             ORDER BY m.last_read_at, m.user_id",
        )
        .bind(room_id)
        .bind(seq)
        .bind(except)
        .fetch_all(p)
        .await)
    }
}
