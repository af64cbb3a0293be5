//! The per-room change log: deletions and edits (later reactions) numbered per room
//! (`rooms.last_change`), so what a node or a client missed live can be read back in order.

use super::{with_pool, Store};
use crate::domain::Message;

/// One entry of a room's change log, with its message as it is now.
#[derive(sqlx::FromRow, Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub change_seq: i64,
    /// `deleted`, `edited` or `reaction`.
    pub kind: String,
    pub message_id: String,
    pub by_user: String,
    pub at: i64,
    /// The message now: an edit replayed later carries the current content, and an edit
    /// of a message deleted since is told as its deletion.
    pub content: Option<String>,
    pub edited_at: Option<i64>,
    pub deleted_by: Option<String>,
    /// A reaction's emoji, action and count after it (JSON).
    pub detail: Option<String>,
}

/// Logs a change as the room's next one inside the open transaction `$tx` (the room's
/// row is locked by the bump); evaluates to the change's `seq`. `$detail` is
/// `Option<String>` (a reaction's or a pin's JSON).
macro_rules! log_change {
    ($tx:expr, $room:expr, $kind:expr, $message:expr, $by:expr, $at:expr, $detail:expr) => {{
        let seq: i64 = sqlx::query_scalar(
            "UPDATE rooms SET last_change = last_change + 1 WHERE id = $1 RETURNING last_change",
        )
        .bind($room)
        .fetch_one(&mut *$tx)
        .await?;
        sqlx::query(
            "INSERT INTO room_changes (room_id, change_seq, kind, message_id, by_user, at, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind($room)
        .bind(seq)
        .bind($kind)
        .bind($message)
        .bind($by)
        .bind($at)
        .bind($detail)
        .execute(&mut *$tx)
        .await?;
        seq
    }};
}
pub(crate) use log_change;

/// What `Store::change_message` changes and logs.
pub(super) struct MessageChange<'a> {
    pub room_id: &'a str,
    pub id: &'a str,
    pub by: &'a str,
    pub now: i64,
    pub kind: &'static str,
    /// Bound as $5 (an edit's content).
    pub text: Option<&'a str>,
    /// Logged with the change (a pin's JSON).
    pub detail: Option<String>,
}

impl<'a> MessageChange<'a> {
    pub fn new(room_id: &'a str, id: &'a str, by: &'a str, now: i64, kind: &'static str) -> Self {
        MessageChange {
            room_id,
            id,
            by,
            now,
            kind,
            text: None,
            detail: None,
        }
    }
}

impl Store {
    /// One change to a stored message: `sql` updates its row, and if it changed one,
    /// `c.kind` is logged as the room's next change, in one transaction. Every `sql` binds
    /// the same five values: $1 message id, $2 room id, $3 now, $4 who, $5 `c.text`. The
    /// change's `seq`, or `None` if no row changed.
    pub(super) async fn change_message(
        &self,
        sql: &str,
        c: MessageChange<'_>,
    ) -> Result<Option<i64>, sqlx::Error> {
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let n = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(c.id)
                .bind(c.room_id)
                .bind(c.now)
                .bind(c.by)
                .bind(c.text)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Ok(None);
            }
            let seq = log_change!(tx, c.room_id, c.kind, c.id, c.by, c.now, c.detail);
            tx.commit().await?;
            Ok(Some(seq))
        })
    }

    /// A change, then the message as it is after it.
    async fn changed(
        &self,
        sql: &str,
        c: MessageChange<'_>,
    ) -> Result<Option<(Message, i64)>, sqlx::Error> {
        let (room_id, id) = (c.room_id, c.id);
        let Some(seq) = self.change_message(sql, c).await? else {
            return Ok(None);
        };
        Ok(self.get_message(room_id, id).await?.map(|(m, _)| (m, seq)))
    }

    /// Soft-deletes and logs the deletion as the room's next change, in one transaction.
    /// Returns the tombstone and the change's `seq`; `None` if it was already deleted.
    pub async fn delete_message(
        &self,
        room_id: &str,
        id: &str,
        by: &str,
        now: i64,
    ) -> Result<Option<(Message, i64)>, sqlx::Error> {
        let c = MessageChange::new(room_id, id, by, now, "deleted");
        self.changed(
            "UPDATE messages SET content = NULL, mentions = '[]', deleted_at = $3, deleted_by = $4
             WHERE id = $1 AND room_id = $2 AND deleted_at IS NULL AND $5 IS NULL",
            c,
        )
        .await
    }

    /// Replaces the content of `editor`'s own message and logs the edit as the room's
    /// next change, in one transaction. The message and the change's `seq`; `None` if it
    /// is not `editor`'s, or is deleted.
    pub async fn edit_message(
        &self,
        room_id: &str,
        id: &str,
        editor: &str,
        content: &str,
        now: i64,
    ) -> Result<Option<(Message, i64)>, sqlx::Error> {
        let c = MessageChange {
            text: Some(content),
            ..MessageChange::new(room_id, id, editor, now, "edited")
        };
        self.changed(
            "UPDATE messages SET content = $5, edited_at = $3
             WHERE id = $1 AND room_id = $2 AND sender_id = $4 AND deleted_at IS NULL",
            c,
        )
        .await
    }

    /// The changes of `room_id` with `after < change_seq <= upto`, oldest first, at most
    /// `limit`.
    pub async fn changes_between(
        &self,
        room_id: &str,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<Change>, sqlx::Error> {
        with_pool!(self, p => sqlx::query_as::<_, Change>(
            "SELECT c.change_seq, c.kind, c.message_id, c.by_user, c.at,
                    m.content, m.edited_at, m.deleted_by, c.detail
             FROM room_changes c LEFT JOIN messages m ON m.id = c.message_id
             WHERE c.room_id = $1 AND c.change_seq > $2 AND c.change_seq <= $3
             ORDER BY c.change_seq ASC LIMIT $4",
        )
        .bind(room_id)
        .bind(after)
        .bind(upto)
        .bind(limit)
        .fetch_all(p)
        .await)
    }

    /// The room's last change `seq` (0: none yet).
    pub async fn last_change(&self, room_id: &str) -> Result<i64, sqlx::Error> {
        with_pool!(self, p => sqlx::query_scalar::<_, i64>(
            "SELECT last_change FROM rooms WHERE id = $1"
        )
        .bind(room_id)
        .fetch_optional(p)
        .await
        .map(Option::unwrap_or_default))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store_with_room() -> Store {
        let store = Store::connect("sqlite::memory:", 1).await.expect("sqlite");
        store.migrate().await.expect("migrations");
        for q in [
            "INSERT INTO rooms (id, kind, created_by, created_at, last_seq, last_activity_at) VALUES ('r', 'group', 't', 0, 2, 0)",
            "INSERT INTO messages (id, room_id, seq, sender_id, sender_name, content, mentions, created_at) VALUES ('m1', 'r', 1, 't', 'T', 'a', '[]', 0)",
            "INSERT INTO messages (id, room_id, seq, sender_id, sender_name, content, mentions, created_at) VALUES ('m2', 'r', 2, 't', 'T', 'b', '[]', 0)",
        ] {
            with_pool!(store, p => sqlx::query(q).execute(p).await.map(|_| ())).expect(q);
        }
        store
    }

    #[tokio::test]
    async fn each_deletion_is_logged_once_as_the_rooms_next_change() {
        let store = store_with_room().await;
        let (tomb, c1) = store
            .delete_message("r", "m2", "t", 5)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((tomb.content, c1), (None, 1));
        assert!(store
            .delete_message("r", "m2", "t", 6)
            .await
            .unwrap()
            .is_none());
        let (_, c2) = store
            .delete_message("r", "m1", "s", 7)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c2, 2);
        assert_eq!(store.last_change("r").await.unwrap(), 2);
        assert_eq!(
            store
                .room_heads(&["r".into(), "nope".into()])
                .await
                .unwrap(),
            vec![("r".to_string(), 2, 2)]
        );
        let log = store.changes_between("r", 0, 2, 10).await.unwrap();
        let ids: Vec<(i64, &str, &str)> = log
            .iter()
            .map(|c| (c.change_seq, c.message_id.as_str(), c.by_user.as_str()))
            .collect();
        assert_eq!(ids, vec![(1, "m2", "t"), (2, "m1", "s")]);
        assert_eq!(store.changes_between("r", 1, 2, 10).await.unwrap().len(), 1);
        assert_eq!(store.changes_between("r", 0, 2, 1).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn an_edit_of_ones_own_live_message_is_logged_and_read_back_with_the_current_content() {
        let store = store_with_room().await;
        assert!(
            store
                .edit_message("r", "m1", "s", "x", 3)
                .await
                .unwrap()
                .is_none(),
            "not the sender's"
        );
        let (m, c1) = store
            .edit_message("r", "m1", "t", "first", 4)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (m.content.as_deref(), m.edited_at, c1),
            (Some("first"), Some(4), 1)
        );
        let (_, c2) = store
            .edit_message("r", "m1", "t", "second", 5)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c2, 2);
        let log = store.changes_between("r", 0, 2, 10).await.unwrap();
        let seen: Vec<(&str, Option<&str>)> = log
            .iter()
            .map(|c| (c.kind.as_str(), c.content.as_deref()))
            .collect();
        assert_eq!(
            seen,
            vec![("edited", Some("second")), ("edited", Some("second"))]
        );
        store
            .delete_message("r", "m1", "t", 6)
            .await
            .unwrap()
            .unwrap();
        assert!(
            store
                .edit_message("r", "m1", "t", "late", 7)
                .await
                .unwrap()
                .is_none(),
            "deleted"
        );
        let log = store.changes_between("r", 0, 3, 10).await.unwrap();
        assert!(log
            .iter()
            .all(|c| c.content.is_none() && c.deleted_by.as_deref() == Some("t")));
    }
}
