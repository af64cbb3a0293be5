//! Reads for healing live delivery: rooms' head `seq` (of messages and of changes), and
//! a room's messages in a `seq` range.

use super::messages::{select_messages, MessageRow};
use super::{with_pool, Store};
use crate::domain::Message;

impl Store {
    /// The last allocated `seq` and change `seq` of each of `rooms` that exists.
    pub async fn room_heads(
        &self,
        rooms: &[String],
    ) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        with_pool!(self, p => {
            let mut qb = sqlx::QueryBuilder::new("SELECT id, last_seq, last_change FROM rooms WHERE id IN (");
            let mut sep = qb.separated(", ");
            for id in rooms {
                sep.push_bind(id);
            }
            qb.push(")");
            qb.build_query_as::<(String, i64, i64)>().fetch_all(p).await
        })
    }

    /// The messages of `room_id` with `after < seq <= upto`, oldest first, at most `limit`
    /// (tombstones included).
    pub async fn messages_between(
        &self,
        room_id: &str,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<Message>, sqlx::Error> {
        with_pool!(self, p => sqlx::query_as::<_, MessageRow>(select_messages!(
            "WHERE room_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq ASC LIMIT $4"
        ))
        .bind(room_id)
        .bind(after)
        .bind(upto)
        .bind(limit)
        .fetch_all(p)
        .await
        .map(|rows| rows.into_iter().map(Message::from).collect()))
    }
}
