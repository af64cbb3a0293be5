//! The database side of healing live delivery: the backplane's `History`, read from the
//! store (messages and the change log) and encoded as the events live delivery carries.

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use crate::backplane::heal::{Heads, Missed, Stream};
use crate::backplane::History;
use bytes::Bytes;

use crate::domain::events::{
    ChatMessageDeleted, ChatMessageEdited, ChatMessagePinned, ChatMessageReaction, NewChatMessage,
};
use crate::storage::Store;

/// `History` over the store: missed messages become `new-chat-message` packets (their
/// attachments' urls signed).
pub struct StoreHistory(pub Store, pub super::uploads::UrlSigner);

impl History for StoreHistory {
    fn missed(
        &self,
        stream: Stream,
        room: String,
        after: i64,
        upto: i64,
        limit: u32,
    ) -> BoxFuture<'static, Result<Vec<Missed>, String>> {
        let store = self.0.clone();
        let signer = self.1.clone();
        let limit = i64::from(limit);
        async move {
            let missed =
                match stream {
                    Stream::Messages => store
                        .messages_between(&room, after, upto, limit)
                        .await
                        .map(|mut found| {
                            signer.sign(&mut found);
                            found
                                .iter()
                                .map(|m| (m.seq, super::encode(&NewChatMessage(m))))
                                .collect()
                        }),
                    Stream::Changes => {
                        store
                            .changes_between(&room, after, upto, limit)
                            .await
                            .map(|found| {
                                found
                                    .into_iter()
                                    .map(|c| (c.change_seq, change_packet(&room, c)))
                                    .collect()
                            })
                    }
                };
            missed.map_err(|e| e.to_string())
        }
        .boxed()
    }

    fn heads(
        &self,
        rooms: Vec<String>,
    ) -> BoxFuture<'static, Result<Vec<(String, Heads)>, String>> {
        let store = self.0.clone();
        async move {
            let heads = store.room_heads(&rooms).await.map_err(|e| e.to_string())?;
            Ok(heads.into_iter().map(|(r, s, c)| (r, (s, c))).collect())
        }
        .boxed()
    }
}

/// A logged change as the packet live delivery carried: `chat-message-deleted`, or
/// `chat-message-edited` with the message's current content (an edit of a message
/// deleted since is told as that deletion: its content is gone).
pub fn change_packet(room_id: &str, c: crate::storage::Change) -> Bytes {
    let room_id = room_id.to_string();
    if c.kind == "reaction" {
        #[derive(serde::Deserialize)]
        struct Detail {
            emoji: String,
            action: crate::domain::reaction::ReactionAction,
            count: i64,
        }
        let d: Option<Detail> = c
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok());
        if let Some(d) = d {
            return super::encode(&ChatMessageReaction {
                room_id,
                message_id: c.message_id,
                emoji: d.emoji,
                user_id: c.by_user,
                action: d.action,
                count: d.count,
                change_seq: c.change_seq,
            });
        }
    }
    if c.kind == "pinned" {
        let pinned = c
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .and_then(|d| d["pinned"].as_bool())
            .unwrap_or(false);
        return super::encode(&ChatMessagePinned {
            room_id,
            message_id: c.message_id,
            pinned,
            by: c.by_user,
            change_seq: c.change_seq,
        });
    }
    match (c.kind.as_str(), c.content, c.edited_at) {
        ("edited", Some(content), Some(edited_at)) => super::encode(&ChatMessageEdited {
            room_id,
            message_id: c.message_id,
            content,
            edited_at,
            change_seq: c.change_seq,
        }),
        _ => super::encode(&ChatMessageDeleted {
            room_id,
            message_id: c.message_id,
            deleted_by: if c.kind == "deleted" {
                c.by_user
            } else {
                c.deleted_by.unwrap_or(c.by_user)
            },
            change_seq: c.change_seq,
        }),
    }
}
