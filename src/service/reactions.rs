//! Reactions to messages: one per user per emoji, added or removed over REST or the
//! socket; each change is broadcast as `chat-message-reaction` with the count after it,
//! in the room's change order.

use serde::Serialize;

use super::rooms::{format_cursor, parse_cursor};
use super::Chat;
use crate::backplane::Target;
use crate::domain::error::{AppError, AppResult};
use crate::domain::events::ChatMessageReaction;
use crate::domain::reaction::{check_emoji, ReactionAction};
use crate::domain::time::{now_ms, ser_ms};
use crate::domain::Principal;

/// One user who reacted, as `GET …/reactions/{emoji}` lists them.
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reacted {
    pub user_id: String,
    #[schema(required = true)]
    pub name: Option<String>,
    #[serde(serialize_with = "ser_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub reacted_at: i64,
}

impl Chat {
    /// Adds or removes the caller's reaction (idempotent: a repeat changes and broadcasts
    /// nothing). Answers the reaction with the count after it; `changeSeq` is 0 when
    /// nothing changed.
    pub async fn react(
        &self,
        p: &Principal,
        room_id: &str,
        message_id: &str,
        emoji: &str,
        action: ReactionAction,
    ) -> AppResult<ChatMessageReaction> {
        check_emoji(emoji)?;
        let msg = self.message_of(p, room_id, message_id).await?;
        if msg.deleted_at.is_some() {
            return Err(AppError::conflict(
                "message_deleted",
                "a deleted message takes no reactions",
            ));
        }
        self.rate.send(&p.user_id).await?;
        let add = action == ReactionAction::Add;
        let changed = self
            .store
            .react(room_id, message_id, emoji, &p.user_id, add, now_ms())
            .await?;
        let (count, change_seq) = match changed {
            Some(c) => c,
            None => (self.store.reaction_count(message_id, emoji).await?, 0),
        };
        let event = ChatMessageReaction {
            room_id: room_id.to_string(),
            message_id: message_id.to_string(),
            emoji: emoji.to_string(),
            user_id: p.user_id.clone(),
            action,
            count,
            change_seq,
        };
        if changed.is_some() {
            self.emit(Target::Room(room_id.to_string()), None, &event)
                .await;
        }
        Ok(event)
    }

    /// `GET …/reactions/{emoji}`: who reacted, in order of reacting, paged.
    pub async fn reactors(
        &self,
        p: &Principal,
        room_id: &str,
        message_id: &str,
        emoji: &str,
        limit: i64,
        cursor: Option<&str>,
    ) -> AppResult<(Vec<Reacted>, Option<String>)> {
        check_emoji(emoji)?;
        self.message_of(p, room_id, message_id).await?;
        let after = match cursor.filter(|c| !c.is_empty()) {
            Some(c) => Some(parse_cursor(c)?),
            None => None,
        };
        let mut rows = self
            .store
            .reactors(message_id, emoji, limit + 1, after)
            .await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next = more
            .then(|| rows.last().map(|r| format_cursor(r.created_at, &r.user_id)))
            .flatten();
        let page = rows
            .into_iter()
            .map(|r| Reacted {
                user_id: r.user_id,
                name: r.name,
                reacted_at: r.created_at,
            })
            .collect();
        Ok((page, next))
    }
}
