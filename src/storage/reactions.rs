//! Reactions: one row per user, emoji and message. Adding or removing one is logged as
//! the room's next change with the count after it, under the room's row lock, so the
//! counts members see go in change order and end right under concurrent reacts.

use std::collections::HashMap;

use super::changes::log_change;
use super::{with_pool, Store};
use crate::domain::ReactionCount;

/// One user who reacted.
#[derive(sqlx::FromRow, Debug, Clone, PartialEq, Eq)]
pub struct Reactor {
    pub user_id: String,
    pub name: Option<String>,
    pub created_at: i64,
}

impl Store {
    /// Adds (`add`) or removes `user`'s reaction. `Some((count after, change seq))` if
    /// that changed anything, `None` if it was already so (nothing logged).
    pub async fn react(
        &self,
        room_id: &str,
        message_id: &str,
        emoji: &str,
        user: &str,
        add: bool,
        now: i64,
    ) -> Result<Option<(i64, i64)>, sqlx::Error> {
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            // The room's row first: reactions (and other changes) of a room take turns.
            sqlx::query("UPDATE rooms SET last_change = last_change WHERE id = $1")
                .bind(room_id)
                .execute(&mut *tx)
                .await?;
            let sql = if add {
                "INSERT INTO message_reactions (message_id, emoji, user_id, created_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (message_id, emoji, user_id) DO NOTHING"
            } else {
                "DELETE FROM message_reactions
                 WHERE message_id = $1 AND emoji = $2 AND user_id = $3 AND $4 = $4"
            };
            let n = sqlx::query(sql)
                .bind(message_id)
                .bind(emoji)
                .bind(user)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                tx.commit().await?;
                return Ok(None);
            }
            let count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM message_reactions WHERE message_id = $1 AND emoji = $2",
            )
            .bind(message_id)
            .bind(emoji)
            .fetch_one(&mut *tx)
            .await?;
            let action = if add { "add" } else { "remove" };
            let detail = serde_json::json!({ "emoji": emoji, "action": action, "count": count });
            let seq = log_change!(tx, room_id, "reaction", message_id, user, now, Some(detail.to_string()));
            tx.commit().await?;
            Ok(Some((count, seq)))
        })
    }

    /// How many users react to the message with `emoji`.
    pub async fn reaction_count(&self, message_id: &str, emoji: &str) -> Result<i64, sqlx::Error> {
        with_pool!(self, p => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM message_reactions WHERE message_id = $1 AND emoji = $2",
        )
        .bind(message_id)
        .bind(emoji)
        .fetch_one(p)
        .await)
    }

    /// The reactions of these messages, by emoji, most first.
    pub async fn reactions_of(
        &self,
        message_ids: &[String],
    ) -> Result<HashMap<String, Vec<ReactionCount>>, sqlx::Error> {
        if message_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(String, String, i64)> = with_pool!(self, p => {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT message_id, emoji, COUNT(*) FROM message_reactions WHERE message_id IN (",
            );
            let mut sep = qb.separated(", ");
            for id in message_ids {
                sep.push_bind(id);
            }
            qb.push(") GROUP BY message_id, emoji ORDER BY COUNT(*) DESC, MIN(created_at)");
            qb.build_query_as::<(String, String, i64)>().fetch_all(p).await
        })?;
        let mut out: HashMap<String, Vec<ReactionCount>> = HashMap::new();
        for (id, emoji, count) in rows {
            out.entry(id)
                .or_default()
                .push(ReactionCount { emoji, count });
        }
        Ok(out)
    }

    /// Who reacted with `emoji`, in order of reacting, after the `(at, user)` cursor.
    pub async fn reactors(
        &self,
        message_id: &str,
        emoji: &str,
        limit: i64,
        after: Option<(i64, String)>,
    ) -> Result<Vec<Reactor>, sqlx::Error> {
        let (at, user) = after.unwrap_or((i64::MIN, String::new()));
        with_pool!(self, p => sqlx::query_as::<_, Reactor>(
            "SELECT r.user_id, u.name, r.created_at FROM message_reactions r
             LEFT JOIN users u ON u.id = r.user_id
             WHERE r.message_id = $1 AND r.emoji = $2
               AND (r.created_at > $3 OR (r.created_at = $3 AND r.user_id > $4))
             ORDER BY r.created_at, r.user_id LIMIT $5",
        )
        .bind(message_id)
        .bind(emoji)
        .bind(at)
        .bind(user)
        .bind(limit)
        .fetch_all(p)
        .await)
    }
}
