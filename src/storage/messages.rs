//! Messages: gap-free per-room `seq`, idempotent sends, history paging, soft delete, read pointers.

use super::{is_unique_violation, with_pool, Pool, Store};
use crate::domain::attachment::{Attachment, ForwardedFrom};
use crate::domain::{HistoryQueryDir, Message, Role};

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

pub struct HistoryPage {
    pub messages: Vec<Message>,
    pub next_cursor: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    id: String,
    room_id: String,
    seq: i64,
    sender_id: String,
    sender_name: String,
    content: Option<String>,
    client_message_id: Option<String>,
    reply_to_id: Option<String>,
    mentions: String,
    created_at: i64,
    edited_at: Option<i64>,
    deleted_at: Option<i64>,
    deleted_by: Option<String>,
    pub(crate) pinned_at: Option<i64>,
    forwarded_message_id: Option<String>,
    forwarded_room_id: Option<String>,
    forwarded_sender_id: Option<String>,
    forwarded_sender_name: Option<String>,
    forwarded_created_at: Option<i64>,
    attachments: String,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        let forwarded_from = match (
            r.forwarded_message_id,
            r.forwarded_room_id,
            r.forwarded_sender_id,
        ) {
            (Some(message_id), Some(room_id), Some(sender_id)) => Some(ForwardedFrom {
                message_id,
                room_id,
                sender_id,
                sender_name: r.forwarded_sender_name.unwrap_or_default(),
                created_at: r.forwarded_created_at.unwrap_or_default(),
            }),
            _ => None,
        };
        // A deleted message shows no files.
        let attachments = match r.deleted_at {
            Some(_) => Vec::new(),
            None => serde_json::from_str(&r.attachments).unwrap_or_default(),
        };
        Message {
            id: r.id,
            room_id: r.room_id,
            seq: r.seq,
            sender_id: r.sender_id,
            sender_name: r.sender_name,
            content: r.content,
            client_message_id: r.client_message_id,
            reply_to_id: r.reply_to_id,
            mentions: serde_json::from_str(&r.mentions).unwrap_or_default(),
            created_at: r.created_at,
            edited_at: r.edited_at,
            deleted_at: r.deleted_at,
            deleted_by: r.deleted_by,
            reactions: Vec::new(),
            reply_count: 0,
            pinned: r.pinned_at.is_some(),
            forwarded_from,
            attachments,
        }
    }
}

macro_rules! select_messages {
    ($tail:literal) => {
        concat!(
            "SELECT id, room_id, seq, sender_id, sender_name, content, client_message_id, reply_to_id, mentions, created_at, edited_at, deleted_at, deleted_by, pinned_at, forwarded_message_id, forwarded_room_id, forwarded_sender_id, forwarded_sender_name, forwarded_created_at, attachments FROM messages ",
            $tail
        )
    };
}
pub(crate) use select_messages;

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

    /// A message by id alone, whatever its room (forwards name only the message).
    pub async fn message_by_id(&self, id: &str) -> Result<Option<Message>, sqlx::Error> {
        with_pool!(self, p => sqlx::query_as::<_, MessageRow>(select_messages!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(p)
            .await
            .map(|r| r.map(Message::from)))
    }

    async fn message_by_client_id(
        &self,
        sender_id: &str,
        client_id: &str,
    ) -> Result<Option<Message>, sqlx::Error> {
        with_pool!(self, p => sqlx::query_as::<_, MessageRow>(select_messages!(
            "WHERE sender_id = $1 AND client_message_id = $2"
        ))
        .bind(sender_id)
        .bind(client_id)
        .fetch_optional(p)
        .await
        .map(|r| r.map(Message::from)))
    }

    pub async fn message_by_seq(
        &self,
        room_id: &str,
        seq: i64,
    ) -> Result<Option<Message>, sqlx::Error> {
        with_pool!(self, p => sqlx::query_as::<_, MessageRow>(select_messages!(
            "WHERE room_id = $1 AND seq = $2"
        ))
        .bind(room_id)
        .bind(seq)
        .fetch_optional(p)
        .await
        .map(|r| r.map(Message::from)))
    }

    /// A message of this room, with its sender's platform role.
    pub async fn get_message(
        &self,
        room_id: &str,
        id: &str,
    ) -> Result<Option<(Message, Option<Role>)>, sqlx::Error> {
        let msg = with_pool!(self, p => sqlx::query_as::<_, MessageRow>(select_messages!(
            "WHERE id = $1 AND room_id = $2"
        ))
        .bind(id)
        .bind(room_id)
        .fetch_optional(p)
        .await)?;
        let Some(msg) = msg else { return Ok(None) };
        let msg = Message::from(msg);
        let role = self.get_user(&msg.sender_id).await?.and_then(|u| u.role);
        Ok(Some((msg, role)))
    }

    /// One page of history: newest first before a `seq`, oldest first after one.
    pub async fn history(
        &self,
        room_id: &str,
        dir: HistoryQueryDir,
        limit: i64,
    ) -> Result<HistoryPage, sqlx::Error> {
        let rows: Vec<MessageRow> = match dir {
            HistoryQueryDir::Before(before) => {
                with_pool!(self, p => sqlx::query_as::<_, MessageRow>(
                select_messages!("WHERE room_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3")
            )
            .bind(room_id)
            .bind(before)
            .bind(limit + 1)
            .fetch_all(p)
            .await)?
            }
            HistoryQueryDir::After(after) => with_pool!(self, p => sqlx::query_as::<_, MessageRow>(
                select_messages!("WHERE room_id = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3")
            )
            .bind(room_id)
            .bind(after)
            .bind(limit + 1)
            .fetch_all(p)
            .await)?,
        };
        let more = rows.len() as i64 > limit;
        let messages: Vec<Message> = rows
            .into_iter()
            .take(limit as usize)
            .map(Message::from)
            .collect();
        let next_cursor = if more {
            messages.last().map(|m| m.seq)
        } else {
            None
        };
        Ok(HistoryPage {
            messages,
            next_cursor,
        })
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
