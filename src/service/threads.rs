//! Around a message: what listed messages carry (reactions, reply counts), the replies
//! to a message, and the room's pins.

use super::rooms::{format_cursor, parse_cursor};
use super::Chat;
use crate::backplane::Target;
use crate::domain::error::{AppError, AppResult};
use crate::domain::events::ChatMessagePinned;
use crate::domain::time::now_ms;
use crate::domain::{permissions, Message, Principal};

impl Chat {
    /// Fills what listed messages carry besides their row: reactions and reply counts.
    pub async fn decorate(&self, messages: &mut [Message]) -> AppResult<()> {
        let ids: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
        let mut reactions = self.store.reactions_of(&ids).await?;
        let replies = self.store.reply_counts(&ids).await?;
        for m in messages.iter_mut() {
            m.reactions = reactions.remove(&m.id).unwrap_or_default();
            m.reply_count = replies.get(&m.id).copied().unwrap_or(0);
        }
        self.sign_attachments(messages);
        Ok(())
    }

    /// `GET …/messages/{id}/replies?limit=&cursor=`: oldest first; the cursor is a `seq`.
    pub async fn replies(
        &self,
        p: &Principal,
        room_id: &str,
        message_id: &str,
        limit: i64,
        cursor: Option<&str>,
    ) -> AppResult<(Vec<Message>, Option<String>)> {
        self.message_of(p, room_id, message_id).await?;
        let after = match cursor.filter(|c| !c.is_empty()) {
            Some(c) => c.parse::<i64>().map_err(|_| {
                AppError::bad_request("invalid_cursor", "cursor is not one this server gave")
            })?,
            None => 0,
        };
        let mut page = self
            .store
            .replies(room_id, message_id, after, limit + 1)
            .await?;
        let more = page.len() as i64 > limit;
        page.truncate(limit as usize);
        self.decorate(&mut page).await?;
        let next = more
            .then(|| page.last().map(|m| m.seq.to_string()))
            .flatten();
        Ok((page, next))
    }

    /// `GET …/pins?limit=&cursor=`: most recently pinned first.
    pub async fn pins(
        &self,
        p: &Principal,
        room_id: &str,
        limit: i64,
        cursor: Option<&str>,
    ) -> AppResult<(Vec<Message>, Option<String>)> {
        self.access(p, room_id).await?;
        let before = match cursor.filter(|c| !c.is_empty()) {
            Some(c) => Some(parse_cursor(c)?),
            None => None,
        };
        let mut rows = self.store.pins(room_id, limit + 1, before).await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next = more
            .then(|| rows.last().map(|(m, at)| format_cursor(*at, &m.id)))
            .flatten();
        let mut page: Vec<Message> = rows.into_iter().map(|(m, _)| m).collect();
        self.decorate(&mut page).await?;
        Ok((page, next))
    }

    /// `PUT` / `DELETE …/pins/{messageId}`: pins or unpins; broadcasts
    /// `chat-message-pinned` when that changed anything (`changeSeq` 0 otherwise).
    pub async fn pin(
        &self,
        p: &Principal,
        room_id: &str,
        message_id: &str,
        pinned: bool,
    ) -> AppResult<ChatMessagePinned> {
        let (room, membership) = self.access(p, room_id).await?;
        if !permissions::can_pin(p, room.kind, membership) {
            return Err(AppError::forbidden(
                "in a group room, teachers, the room's owner or admins pin messages",
            ));
        }
        let (msg, _) = self
            .store
            .get_message(room_id, message_id)
            .await?
            .ok_or_else(AppError::message_not_found)?;
        if pinned && msg.deleted_at.is_some() {
            return Err(AppError::conflict(
                "message_deleted",
                "a deleted message cannot be pinned",
            ));
        }
        let changed = self
            .store
            .set_pinned(room_id, message_id, &p.user_id, pinned, now_ms())
            .await?;
        let event = ChatMessagePinned {
            room_id: room_id.to_string(),
            message_id: message_id.to_string(),
            pinned,
            by: p.user_id.clone(),
            change_seq: changed.unwrap_or(0),
        };
        if changed.is_some() {
            self.emit(Target::Room(room_id.to_string()), None, &event)
                .await;
        }
        Ok(event)
    }
}
