//! Messages as stored and read back: the row, lookups by id and `seq`, history paging
//! (storing a new one is in `message_insert`).

use super::{with_pool, Store};
use crate::domain::attachment::ForwardedFrom;
use crate::domain::{HistoryQueryDir, Message, Role};

pub use super::message_insert::{InsertOutcome, NewMessage};

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
    /// A message by id alone, whatever its room (forwards name only the message).
    pub async fn message_by_id(&self, id: &str) -> Result<Option<Message>, sqlx::Error> {
        with_pool!(self, p => sqlx::query_as::<_, MessageRow>(select_messages!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(p)
            .await
            .map(|r| r.map(Message::from)))
    }

    pub(super) async fn message_by_client_id(
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
