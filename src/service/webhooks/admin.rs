//! `GET /chat/admin/webhooks?status=failed`: the outbox's rows by status (the dead
//! letters by default), newest first, for admins only.

use serde::Serialize;

use crate::domain::error::{AppError, AppResult};
use crate::domain::permissions;
use crate::domain::time::{ser_ms, ser_opt_ms};
use crate::domain::Principal;
use crate::service::rooms::{format_cursor, parse_cursor};
use crate::service::Chat;
use crate::storage::OutboxEntry;

const STATUSES: [&str; 3] = ["failed", "pending", "delivered"];

/// One outbox row: its delivery state and the event as it is (or was) sent.
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub user_id: String,
    pub room_id: String,
    #[schema(required = true)]
    pub message_id: Option<String>,
    pub status: String,
    pub attempts: i32,
    #[serde(serialize_with = "ser_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    /// When a pending row is tried next.
    #[serde(serialize_with = "ser_opt_ms")]
    #[schema(required = true, value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<i64>,
    #[serde(serialize_with = "ser_opt_ms")]
    #[schema(required = true, value_type = Option<String>, format = DateTime)]
    pub last_attempt_at: Option<i64>,
    #[schema(required = true)]
    pub last_error: Option<String>,
    /// When it was delivered or given up.
    #[serde(serialize_with = "ser_opt_ms")]
    #[schema(required = true, value_type = Option<String>, format = DateTime)]
    pub done_at: Option<i64>,
    /// The body POSTed (the signed JSON).
    #[schema(value_type = Object)]
    pub event: serde_json::Value,
}

impl From<OutboxEntry> for WebhookDelivery {
    fn from(e: OutboxEntry) -> Self {
        WebhookDelivery {
            event: serde_json::from_str(&e.body).unwrap_or_default(),
            next_attempt_at: (e.status == "pending").then_some(e.next_at),
            id: e.id,
            kind: e.kind,
            user_id: e.user_id,
            room_id: e.room_id,
            message_id: e.message_id,
            status: e.status,
            attempts: e.attempts,
            created_at: e.created_at,
            last_attempt_at: e.last_attempt_at,
            last_error: e.last_error,
            done_at: e.done_at,
        }
    }
}

impl Chat {
    /// The outbox rows of `status` (default `failed`), a page of `limit` after `cursor`.
    pub async fn webhook_deliveries(
        &self,
        p: &Principal,
        status: Option<&str>,
        limit: i64,
        cursor: Option<&str>,
    ) -> AppResult<(Vec<WebhookDelivery>, Option<String>)> {
        if !permissions::can_view_stats(p) {
            return Err(AppError::forbidden("webhook deliveries are for admins"));
        }
        let status = status.filter(|s| !s.is_empty()).unwrap_or("failed");
        if !STATUSES.contains(&status) {
            return Err(AppError::bad_request(
                "invalid_status",
                "status must be failed, pending or delivered",
            ));
        }
        let after = match cursor.filter(|c| !c.is_empty()) {
            Some(c) => Some(parse_cursor(c)?),
            None => None,
        };
        let mut rows = self.store.list_webhooks(status, limit + 1, after).await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next = if more {
            rows.last().map(|r| format_cursor(r.created_at, &r.id))
        } else {
            None
        };
        Ok((rows.into_iter().map(Into::into).collect(), next))
    }
}
