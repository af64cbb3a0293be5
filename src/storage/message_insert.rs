//! Storing a new message: the room's next `seq` under its row lock, the sender's read
//! pointer, idempotent `clientMessageId`s, forwards and attachments (one statement on
//! PostgreSQL, one transaction on SQLite).

use super::{is_unique_violation, Pool, Store};
use crate::domain::attachment::{Attachment, ForwardedFrom};
use crate::domain::Message;

/// A message to store; `seq` is allocated by the store.
pub struct NewMessage {
    pub id: String,
    pub room_id: String,
    pub sender_id: String,
    pub sender_name: String,
    pub content: String,
    pub client_message_id: Option<String>,
    pub reply_to_id: Option<String>,
    pub mentions: Vec<String>,
    pub forwarded_from: Option<ForwardedFrom>,
    pub attachments: Vec<Attachment>,
    pub now: i64,
}

pub enum InsertOutcome {
    Created(Message),
    /// The sender already sent this `clientMessageId`: the first message.
    Existing(Message),
}

impl Store {
    /// Stores a message with the room's next `seq` (the room row is locked for the
    /// allocation, so concurrent sends get consecutive numbers) and advances the sender's
    /// own read pointer past it, if the sender may post there (a member, or an admin):
    /// `None` if not, or if the room does not exist. On PostgreSQL this is one statement
    /// (one round trip); a repeated `clientMessageId` fails it on the unique index, which
    /// rolls the whole statement back, and answers with the first message.
    pub async fn insert_message(
        &self,
        m: &NewMessage,
        admin: bool,
    ) -> Result<Option<InsertOutcome>, sqlx::Error> {
        let mentions = serde_json::to_string(&m.mentions).unwrap_or_else(|_| "[]".into());
        let attachments = stored_attachments(&m.attachments);
        let fwd = m.forwarded_from.as_ref();
        let res: Result<Option<i64>, sqlx::Error> = match &self.pool {
            Pool::Postgres(p) => {
                sqlx::query_scalar(
                    "WITH allowed AS (
                       SELECT id FROM rooms WHERE id = $1 AND ($10 OR EXISTS (
                         SELECT 1 FROM room_members WHERE room_id = $1 AND user_id = $3))
                     ), next AS (
                       UPDATE rooms SET last_seq = last_seq + 1, last_activity_at = $9
                       WHERE id IN (SELECT id FROM allowed) RETURNING last_seq
                     ), ins AS (
                       INSERT INTO messages (id, room_id, seq, sender_id, sender_name, content,
                                             client_message_id, reply_to_id, mentions, created_at,
                                             forwarded_message_id, forwarded_room_id, forwarded_sender_id,
                                             forwarded_sender_name, forwarded_created_at, attachments)
                       SELECT $2, $1, last_seq, $3, $4, $5, $6, $7, $8, $9, $11, $12, $13, $14, $15, $16
                       FROM next RETURNING seq
                     ), pointer AS (
                       UPDATE room_members SET last_read_seq = ins.seq, last_read_at = $9 FROM ins
                       WHERE room_id = $1 AND user_id = $3 AND last_read_seq < ins.seq
                     )
                     SELECT seq FROM ins",
                )
                .bind(&m.room_id)
                .bind(&m.id)
                .bind(&m.sender_id)
                .bind(&m.sender_name)
                .bind(&m.content)
                .bind(&m.client_message_id)
                .bind(&m.reply_to_id)
                .bind(&mentions)
                .bind(m.now)
                .bind(admin)
                .bind(fwd.map(|f| &f.message_id))
                .bind(fwd.map(|f| &f.room_id))
                .bind(fwd.map(|f| &f.sender_id))
                .bind(fwd.map(|f| &f.sender_name))
                .bind(fwd.map(|f| f.created_at))
                .bind(&attachments)
                .fetch_optional(p)
                .await
            }
            Pool::Sqlite(p) => {
                Self::insert_message_tx(p, m, (&mentions, &attachments), admin).await
            }
        };
        match res {
            Ok(None) => Ok(None),
            Ok(Some(seq)) => Ok(Some(InsertOutcome::Created(Message {
                id: m.id.clone(),
                room_id: m.room_id.clone(),
                seq,
                sender_id: m.sender_id.clone(),
                sender_name: m.sender_name.clone(),
                content: Some(m.content.clone()),
                forwarded_from: m.forwarded_from.clone(),
                attachments: m.attachments.clone(),
                client_message_id: m.client_message_id.clone(),
                reply_to_id: m.reply_to_id.clone(),
                mentions: m.mentions.clone(),
                created_at: m.now,
                edited_at: None,
                deleted_at: None,
                deleted_by: None,
                reactions: Vec::new(),
                reply_count: 0,
                pinned: false,
            }))),
            // The sender sent this clientMessageId before (or a concurrent retry won).
            Err(e) if is_unique_violation(&e) && m.client_message_id.is_some() => {
                let cid = m.client_message_id.as_deref().unwrap_or_default();
                match self.message_by_client_id(&m.sender_id, cid).await? {
                    Some(first) => Ok(Some(InsertOutcome::Existing(first))),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// SQLite: the same steps in one transaction.
    async fn insert_message_tx(
        p: &sqlx::SqlitePool,
        m: &NewMessage,
        (mentions, attachments): (&str, &str),
        admin: bool,
    ) -> Result<Option<i64>, sqlx::Error> {
        let fwd = m.forwarded_from.as_ref();
        let mut tx = p.begin().await?;
        // Writing first: a read-then-write transaction could not take the write lock.
        let seq: Option<i64> = sqlx::query_scalar(
            "UPDATE rooms SET last_seq = last_seq + 1, last_activity_at = $2
             WHERE id = $1 AND ($4 OR EXISTS (
               SELECT 1 FROM room_members WHERE room_id = $1 AND user_id = $3))
             RETURNING last_seq",
        )
        .bind(&m.room_id)
        .bind(m.now)
        .bind(&m.sender_id)
        .bind(admin)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(seq) = seq else {
            return Ok(None);
        };
        sqlx::query(
            "INSERT INTO messages (id, room_id, seq, sender_id, sender_name, content, client_message_id, reply_to_id, mentions, created_at,
               forwarded_message_id, forwarded_room_id, forwarded_sender_id, forwarded_sender_name, forwarded_created_at, attachments)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(&m.id)
        .bind(&m.room_id)
        .bind(seq)
        .bind(&m.sender_id)
        .bind(&m.sender_name)
        .bind(&m.content)
        .bind(&m.client_message_id)
        .bind(&m.reply_to_id)
        .bind(mentions)
        .bind(m.now)
        .bind(fwd.map(|f| &f.message_id))
        .bind(fwd.map(|f| &f.room_id))
        .bind(fwd.map(|f| &f.sender_id))
        .bind(fwd.map(|f| &f.sender_name))
        .bind(fwd.map(|f| f.created_at))
        .bind(attachments)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE room_members SET last_read_seq = $3, last_read_at = $4
             WHERE room_id = $1 AND user_id = $2 AND last_read_seq < $3",
        )
        .bind(&m.room_id)
        .bind(&m.sender_id)
        .bind(seq)
        .bind(m.now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(seq))
    }
}

/// Attachments as stored: without their signed urls, which are made when sent.
fn stored_attachments(list: &[Attachment]) -> String {
    let bare: Vec<Attachment> = list
        .iter()
        .map(|a| Attachment {
            url: String::new(),
            ..a.clone()
        })
        .collect();
    serde_json::to_string(&bare).unwrap_or_else(|_| "[]".into())
}
