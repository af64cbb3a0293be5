//! Around a message: its replies (and how many there are) and the room's pins.

use std::collections::HashMap;

use super::changes::MessageChange;
use super::messages::{select_messages, MessageRow};
use super::{with_pool, Store};
use crate::domain::Message;

impl Store {
    /// The replies to `parent`, oldest first, after `after` (a `seq`), at most `limit`.
    pub async fn replies(
        &self,
        room_id: &str,
        parent: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Message>, sqlx::Error> {
        let rows: Vec<MessageRow> = with_pool!(self, p => sqlx::query_as::<_, MessageRow>(
            select_messages!("WHERE room_id = $1 AND reply_to_id = $2 AND seq > $3 ORDER BY seq ASC LIMIT $4")
        )
        .bind(room_id)
        .bind(parent)
        .bind(after)
        .bind(limit)
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    /// The room's pinned messages, most recently pinned first, after the `(pinned at,
    /// id)` cursor.
    pub async fn pins(
        &self,
        room_id: &str,
        limit: i64,
        before: Option<(i64, String)>,
    ) -> Result<Vec<(Message, i64)>, sqlx::Error> {
        let (at, id) = before.unwrap_or((i64::MAX, String::new()));
        let first = if id.is_empty() { 1 } else { 0 };
        let rows: Vec<MessageRow> = with_pool!(self, p => sqlx::query_as::<_, MessageRow>(
            select_messages!("WHERE room_id = $1 AND pinned_at IS NOT NULL
             AND (pinned_at < $2 OR (pinned_at = $2 AND (id < $3 OR $5 = 1)))
             ORDER BY pinned_at DESC, id DESC LIMIT $4")
        )
        .bind(room_id)
        .bind(at)
        .bind(id)
        .bind(limit)
        .bind(first)
        .fetch_all(p)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let at = r.pinned_at.unwrap_or_default();
                (Message::from(r), at)
            })
            .collect())
    }

    /// How many replies each of these messages has (only those with some).
    pub async fn reply_counts(&self, ids: &[String]) -> Result<HashMap<String, i64>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(String, i64)> = with_pool!(self, p => {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT reply_to_id, COUNT(*) FROM messages WHERE reply_to_id IN (",
            );
            let mut sep = qb.separated(", ");
            for id in ids {
                sep.push_bind(id);
            }
            qb.push(") GROUP BY reply_to_id");
            qb.build_query_as::<(String, i64)>().fetch_all(p).await
        })?;
        Ok(rows.into_iter().collect())
    }

    /// Pins or unpins a live message as `by`, logged as the room's next change.
    /// The change's `seq`; `None` if it was already so (or the message is deleted).
    pub async fn set_pinned(
        &self,
        room_id: &str,
        id: &str,
        by: &str,
        pinned: bool,
        now: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        let sql = if pinned {
            "UPDATE messages SET pinned_at = $3, pinned_by = $4
             WHERE id = $1 AND room_id = $2 AND pinned_at IS NULL AND deleted_at IS NULL
               AND $5 IS NULL"
        } else {
            "UPDATE messages SET pinned_at = NULL, pinned_by = NULL
             WHERE id = $1 AND room_id = $2 AND pinned_at IS NOT NULL
               AND $3 = $3 AND $4 = $4 AND $5 IS NULL"
        };
        let c = MessageChange {
            detail: Some(serde_json::json!({ "pinned": pinned }).to_string()),
            ..MessageChange::new(room_id, id, by, now, "pinned")
        };
        self.change_message(sql, c).await
    }
}
