//! Uploads: the row kept for each stored file, where it was posted (who may download it),
//! and the never-attached ones the sweep removes.

use super::{with_pool, Store};
use crate::domain::attachment::{Attachment, AttachmentKind};

/// An upload as stored.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct UploadRow {
    pub id: String,
    pub uploader_id: String,
    pub name: String,
    pub content_type: String,
    pub kind: String,
    pub size: i64,
    pub duration_ms: Option<i64>,
    pub complete: bool,
    pub created_at: i64,
}

impl UploadRow {
    /// As a message carries it (its `url` is signed later).
    pub fn attachment(&self) -> Attachment {
        Attachment {
            id: self.id.clone(),
            name: self.name.clone(),
            content_type: self.content_type.clone(),
            size: self.size,
            kind: AttachmentKind::parse(&self.kind),
            duration_ms: self.duration_ms,
            url: String::new(),
        }
    }
}

impl Store {
    /// The row of an upload whose bytes are starting to arrive (not complete yet).
    pub async fn begin_upload(&self, u: &UploadRow) -> Result<(), sqlx::Error> {
        with_pool!(self, p => sqlx::query(
            "INSERT INTO uploads (id, uploader_id, name, content_type, kind, size, duration_ms, complete, created_at)
             VALUES ($1, $2, $3, $4, $5, 0, $6, FALSE, $7)",
        )
        .bind(&u.id)
        .bind(&u.uploader_id)
        .bind(&u.name)
        .bind(&u.content_type)
        .bind(&u.kind)
        .bind(u.duration_ms)
        .bind(u.created_at)
        .execute(p)
        .await
        .map(|_| ()))
    }

    /// All bytes are stored: the upload can be attached.
    pub async fn complete_upload(&self, id: &str, size: i64) -> Result<(), sqlx::Error> {
        with_pool!(self, p => sqlx::query("UPDATE uploads SET size = $2, complete = TRUE WHERE id = $1")
            .bind(id)
            .bind(size)
            .execute(p)
            .await
            .map(|_| ()))
    }

    pub async fn delete_upload(&self, id: &str) -> Result<(), sqlx::Error> {
        with_pool!(self, p => sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(id)
            .execute(p)
            .await
            .map(|_| ()))
    }

    pub async fn get_upload(&self, id: &str) -> Result<Option<UploadRow>, sqlx::Error> {
        with_pool!(self, p => sqlx::query_as::<_, UploadRow>(
            "SELECT id, uploader_id, name, content_type, kind, size, duration_ms, complete, created_at
             FROM uploads WHERE id = $1",
        )
            .bind(id)
            .fetch_optional(p)
            .await)
    }

    /// Whether `user_id` is a member of a room the upload was posted in.
    pub async fn shares_upload(&self, upload_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
        with_pool!(self, p => sqlx::query_scalar::<_, i32>(
            "SELECT 1 FROM upload_rooms u JOIN room_members m ON m.room_id = u.room_id
             WHERE u.upload_id = $1 AND m.user_id = $2 LIMIT 1",
        )
        .bind(upload_id)
        .bind(user_id)
        .fetch_optional(p)
        .await
        .map(|r| r.is_some()))
    }

    /// Whether the upload was posted in any room at all (admins read every room).
    pub async fn upload_posted(&self, upload_id: &str) -> Result<bool, sqlx::Error> {
        with_pool!(self, p => sqlx::query_scalar::<_, i32>(
            "SELECT 1 FROM upload_rooms WHERE upload_id = $1 LIMIT 1",
        )
        .bind(upload_id)
        .fetch_optional(p)
        .await
        .map(|r| r.is_some()))
    }

    /// The complete uploads among `ids`, in any order.
    pub async fn uploads_by_id(&self, ids: &[String]) -> Result<Vec<UploadRow>, sqlx::Error> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(u) = self.get_upload(id).await?.filter(|u| u.complete) {
                out.push(u);
            }
        }
        Ok(out)
    }

    /// Marks uploads as posted in a room (so its members may download them, and the
    /// sweep leaves them), before the message naming them is stored.
    pub async fn post_uploads(
        &self,
        ids: &[String],
        room_id: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        for id in ids {
            with_pool!(self, p => sqlx::query(
                "INSERT INTO upload_rooms (upload_id, room_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(room_id)
            .execute(p)
            .await
            .map(|_| ()))?;
            with_pool!(self, p => sqlx::query(
                "UPDATE uploads SET attached_at = $2 WHERE id = $1 AND attached_at IS NULL",
            )
            .bind(id)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ()))?;
        }
        Ok(())
    }

    /// Uploads never attached and made before `before` (complete or not), oldest first.
    pub async fn orphan_uploads(
        &self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<String>, sqlx::Error> {
        with_pool!(self, p => sqlx::query_scalar::<_, String>(
            "SELECT id FROM uploads WHERE attached_at IS NULL AND created_at < $1
             ORDER BY created_at LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(p)
        .await)
    }

    /// Removes an orphan's row unless it was attached meanwhile: true if removed.
    pub async fn drop_orphan(&self, id: &str) -> Result<bool, sqlx::Error> {
        with_pool!(self, p => sqlx::query("DELETE FROM uploads WHERE id = $1 AND attached_at IS NULL")
            .bind(id)
            .execute(p)
            .await
            .map(|r| r.rows_affected() == 1))
    }
}
