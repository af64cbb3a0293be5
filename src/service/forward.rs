//! What a send carries besides its text: the uploads it attaches, or the message it
//! forwards (with that message's content and files, and where it first came from).

use super::Chat;
use crate::domain::attachment::{Attachment, ForwardedFrom};
use crate::domain::error::{AppError, AppResult};
use crate::domain::requests::SendMessage;
use crate::domain::time::now_ms;
use crate::domain::Principal;

/// The content, attachments and origin a new message is stored with.
pub(super) struct Body {
    pub content: String,
    pub attachments: Vec<Attachment>,
    pub forwarded_from: Option<ForwardedFrom>,
}

impl Chat {
    /// Resolves `attachmentIds` (the caller's own complete uploads) or `forwardFromId` (a
    /// message the caller can read). The caller's access to `room_id` must be checked
    /// before (`send_message` does): files are posted in the room, so its members may
    /// download them, only once the caller is known to be allowed to send there.
    pub(super) async fn message_body(
        &self,
        p: &Principal,
        room_id: &str,
        req: &mut SendMessage,
    ) -> AppResult<Body> {
        let content = req.content.take().unwrap_or_default();
        if req.attachment_ids.is_empty() && req.forward_from_id.is_none() {
            return Ok(Body {
                content,
                attachments: Vec::new(),
                forwarded_from: None,
            });
        }
        if let Some(source_id) = &req.forward_from_id {
            return self.forwarded(p, room_id, source_id).await;
        }
        let mut ids: Vec<String> = Vec::new();
        for id in &req.attachment_ids {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        let rows = self.store.uploads_by_id(&ids).await?;
        let mut attachments = Vec::with_capacity(ids.len());
        for id in &ids {
            let row = rows
                .iter()
                .find(|u| u.id == *id && u.uploader_id == p.user_id)
                .ok_or_else(|| {
                    AppError::bad_request(
                        "invalid_attachment",
                        format!("attachmentIds: {id:?} is no complete upload of yours"),
                    )
                })?;
            attachments.push(row.attachment());
        }
        self.store.post_uploads(&ids, room_id, now_ms()).await?;
        Ok(Body {
            content,
            attachments,
            forwarded_from: None,
        })
    }

    async fn forwarded(&self, p: &Principal, room_id: &str, source_id: &str) -> AppResult<Body> {
        let source = self
            .store
            .message_by_id(source_id)
            .await?
            .ok_or_else(AppError::message_not_found)?;
        // A message of a room the caller cannot read does not exist for them.
        self.access(p, &source.room_id)
            .await
            .map_err(|_| AppError::message_not_found())?;
        if source.deleted_at.is_some() {
            return Err(AppError::conflict(
                "message_deleted",
                "a deleted message cannot be forwarded",
            ));
        }
        let ids: Vec<String> = source.attachments.iter().map(|a| a.id.clone()).collect();
        if !ids.is_empty() {
            self.store.post_uploads(&ids, room_id, now_ms()).await?;
        }
        let forwarded_from = source.forwarded_from.clone().unwrap_or(ForwardedFrom {
            message_id: source.id.clone(),
            room_id: source.room_id.clone(),
            sender_id: source.sender_id.clone(),
            sender_name: source.sender_name.clone(),
            created_at: source.created_at,
        });
        Ok(Body {
            content: source.content.unwrap_or_default(),
            attachments: source.attachments,
            forwarded_from: Some(forwarded_from),
        })
    }
}
