//! Messages: send (idempotent), history, soft delete, read receipts and seen-by.

use serde::Serialize;

use super::rooms::new_id;
use super::Chat;
use crate::backplane::Target;
use crate::domain::error::{AppError, AppResult};
use crate::domain::events::{
    By, ChatMessageDeleted, ChatMessageEdited, ChatNotification, MessagesSeen, NewChatMessage,
};
use crate::domain::permissions;
use crate::domain::requests::{EditMessage, MarkSeen, SendMessage};
use crate::domain::time::{now_ms, ser_opt_ms};
use crate::domain::{HistoryQueryDir, Message, Principal};
use crate::storage::{HistoryPage, InsertOutcome, NewMessage};

#[derive(Serialize, Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeenBy {
    pub user_id: String,
    #[schema(required = true)]
    pub name: Option<String>,
    pub last_read_seq: i64,
    #[serde(serialize_with = "ser_opt_ms")]
    #[schema(required = true, value_type = Option<String>, format = DateTime)]
    pub seen_at: Option<i64>,
}

impl Chat {
    /// Persists, then broadcasts `new-chat-message`. A repeated `clientMessageId`
    /// returns the first message with `created = false` and broadcasts nothing.
    pub async fn send_message(
        &self,
        p: &Principal,
        room_id: &str,
        mut req: SendMessage,
    ) -> AppResult<(Message, bool)> {
        req.validate(&self.limits)?;
        self.rate.send(&p.user_id).await?;
        // Access is checked by the insert itself; what looks at the room first (a reply,
        // mentions, files posted in it, a forward) checks it once here.
        if req.reply_to_id.is_some()
            || !req.mentions.is_empty()
            || !req.attachment_ids.is_empty()
            || req.forward_from_id.is_some()
        {
            self.access(p, room_id).await?;
        }
        let body = self.message_body(p, room_id, &mut req).await?;
        if let Some(reply_to) = &req.reply_to_id {
            if self.store.get_message(room_id, reply_to).await?.is_none() {
                return Err(AppError::bad_request(
                    "invalid_reply_to",
                    "replyToId names no message of this room",
                ));
            }
        }
        let mut mentions: Vec<String> = Vec::new();
        if !req.mentions.is_empty() {
            let members = self.store.members(room_id).await?;
            for m in &req.mentions {
                if *m != p.user_id
                    && !mentions.contains(m)
                    && members.iter().any(|x| x.user_id == *m)
                {
                    mentions.push(m.clone());
                }
            }
        }
        let new = NewMessage {
            id: new_id(),
            room_id: room_id.to_string(),
            sender_id: p.user_id.clone(),
            sender_name: p.display_name().to_string(),
            content: body.content,
            client_message_id: req.client_message_id,
            reply_to_id: req.reply_to_id,
            mentions,
            forwarded_from: body.forwarded_from,
            attachments: body.attachments,
            now: now_ms(),
        };
        let mut message = match self.store.insert_message(&new, p.is_admin()).await? {
            None => return Err(AppError::room_not_found()),
            Some(InsertOutcome::Existing(mut first)) => {
                self.sign_attachments(std::slice::from_mut(&mut first));
                return Ok((first, false));
            }
            Some(InsertOutcome::Created(m)) => m,
        };
        self.sign_attachments(std::slice::from_mut(&mut message));
        metrics::counter!("classchat_messages_stored_total").increment(1);
        self.emit(
            Target::Room(room_id.to_string()),
            None,
            &NewChatMessage(&message),
        )
        .await;
        if !message.mentions.is_empty() {
            let room = self.store.get_room(room_id).await?;
            let mention = ChatNotification::Mention {
                room: room.as_ref(),
                message: &message,
                by: By::of(p),
            };
            for m in &message.mentions {
                self.emit(Target::User(m.clone()), None, &mention).await;
            }
        }
        self.webhook_message(p, &message).await;
        Ok((message, true))
    }

    pub async fn history(
        &self,
        p: &Principal,
        room_id: &str,
        dir: HistoryQueryDir,
        limit: i64,
    ) -> AppResult<HistoryPage> {
        self.access(p, room_id).await?;
        let mut page = self.store.history(room_id, dir, limit).await?;
        self.decorate(&mut page.messages).await?;
        Ok(page)
    }

    /// Soft delete under the permission table; broadcasts `chat-message-deleted`.
    /// Deleting a deleted message returns its tombstone and broadcasts nothing.
    pub async fn delete_message(
        &self,
        p: &Principal,
        room_id: &str,
        message_id: &str,
    ) -> AppResult<Message> {
        let (_, membership) = self.access(p, room_id).await?;
        let (msg, sender_role) = self
            .store
            .get_message(room_id, message_id)
            .await?
            .ok_or_else(AppError::message_not_found)?;
        if !permissions::can_delete_message(p, membership.is_some(), &msg.sender_id, sender_role) {
            return Err(AppError::forbidden("not allowed to delete this message"));
        }
        if msg.deleted_at.is_some() {
            return Ok(msg);
        }
        let Some((deleted, change_seq)) = self
            .store
            .delete_message(room_id, message_id, &p.user_id, now_ms())
            .await?
        else {
            // Deleted concurrently: answer with the tombstone.
            return self
                .store
                .get_message(room_id, message_id)
                .await?
                .map(|(m, _)| m)
                .ok_or_else(AppError::message_not_found);
        };
        let deleted_event = ChatMessageDeleted {
            room_id: room_id.to_string(),
            message_id: message_id.to_string(),
            deleted_by: p.user_id.clone(),
            change_seq,
        };
        self.emit(Target::Room(room_id.to_string()), None, &deleted_event)
            .await;
        Ok(deleted)
    }

    /// Edits the caller's own message; broadcasts `chat-message-edited` (ordered with the
    /// room's deletions in its change log, so catch-up and healing carry it too).
    pub async fn edit_message(
        &self,
        p: &Principal,
        room_id: &str,
        message_id: &str,
        req: EditMessage,
    ) -> AppResult<Message> {
        req.validate(&self.limits)?;
        let msg = self.message_of(p, room_id, message_id).await?;
        if msg.sender_id != p.user_id {
            return Err(AppError::forbidden("only its sender edits a message"));
        }
        let deleted =
            || AppError::conflict("message_deleted", "a deleted message cannot be edited");
        if msg.deleted_at.is_some() {
            return Err(deleted());
        }
        self.rate.send(&p.user_id).await?;
        let (edited, change_seq) = self
            .store
            .edit_message(room_id, message_id, &p.user_id, &req.content, now_ms())
            .await?
            .ok_or_else(deleted)?;
        let event = ChatMessageEdited {
            room_id: room_id.to_string(),
            message_id: message_id.to_string(),
            content: req.content,
            edited_at: edited.edited_at.unwrap_or_default(),
            change_seq,
        };
        self.emit(Target::Room(room_id.to_string()), None, &event)
            .await;
        Ok(edited)
    }

    /// Read receipt; broadcasts `messages-seen` when the caller's pointer moved.
    pub async fn mark_seen(
        &self,
        p: &Principal,
        room_id: &str,
        req: MarkSeen,
    ) -> AppResult<MessagesSeen> {
        req.validate()?;
        let (room, membership) = self.access(p, room_id).await?;
        if membership.is_none() {
            return Err(AppError::forbidden("only members have read receipts"));
        }
        let (up_to, ids) = match (req.up_to_seq, req.message_ids) {
            (Some(seq), _) => (seq.min(room.last_seq), Vec::new()),
            (None, Some(ids)) => {
                // Only ids that are messages of this room go out again, never the
                // client's list: others receive what was checked.
                let asked = plausible_ids(ids);
                let found = self.store.seqs_of(room_id, &asked).await?;
                let seq = found
                    .last()
                    .map(|(_, seq)| *seq)
                    .ok_or_else(AppError::message_not_found)?;
                let found: std::collections::HashSet<String> =
                    found.into_iter().map(|(id, _)| id).collect();
                // In the order the client gave them.
                (
                    seq,
                    asked.into_iter().filter(|id| found.contains(id)).collect(),
                )
            }
            (None, None) => {
                return Err(AppError::bad_request(
                    "invalid_payload",
                    "give upToSeq or messageIds",
                ))
            }
        };
        let now = now_ms();
        let moved = self
            .store
            .mark_seen(room_id, &p.user_id, up_to, now)
            .await?;
        // The pointer never moves back: answer with where it stands.
        let up_to = if moved {
            up_to
        } else {
            self.store.read_pointer(room_id, &p.user_id).await?
        };
        let out = MessagesSeen {
            room_id: room_id.to_string(),
            user_id: p.user_id.clone(),
            up_to_seq: up_to,
            message_ids: ids,
            seen_at: now,
        };
        if moved {
            self.emit(Target::Room(room_id.to_string()), None, &out)
                .await;
        }
        Ok(out)
    }

    /// Members (other than the sender) whose read pointer covers the message.
    pub async fn seen_by(
        &self,
        p: &Principal,
        room_id: &str,
        message_id: &str,
    ) -> AppResult<Vec<SeenBy>> {
        let msg = self.message_of(p, room_id, message_id).await?;
        let rows = self.store.seen_by(room_id, msg.seq, &msg.sender_id).await?;
        Ok(rows
            .into_iter()
            .map(|r| SeenBy {
                user_id: r.user_id,
                name: r.name,
                last_read_seq: r.last_read_seq,
                seen_at: r.last_read_at,
            })
            .collect())
    }
}

/// The ids of a read receipt that could name a message: each once, none longer than
/// any message id (server-made, 32 characters), so a padded list costs no query.
fn plausible_ids(ids: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter()
        .filter(|id| id.len() <= MAX_MESSAGE_ID_LEN && seen.insert(id.clone()))
        .collect()
}

/// Longest message id looked up (ids are 32 characters; clients may hold older forms).
const MAX_MESSAGE_ID_LEN: usize = 64;
