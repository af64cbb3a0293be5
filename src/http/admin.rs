//! REST: the admins' view of offline notifications (`GET /chat/admin/webhooks`).

use axum::extract::State;
use axum::response::Response;

use super::extract::{Caller, Params};
use super::openapi::params::WebhookQuery;
use super::{page_body, AppS, Page};
use crate::domain::error::AppResult;
use crate::domain::paging::parse_limit;
use crate::service::WebhookDelivery;

/// `GET /chat/admin/webhooks?status=failed|pending|delivered&limit=&cursor=` (default
/// failed; 50 a page, at most 200).
#[utoipa::path(get, path = "/chat/admin/webhooks", tag = "admin", security(("bearer" = [])),
    params(WebhookQuery),
    responses(
        (status = 200, description = "A page of deliveries, newest first", body = Page<WebhookDelivery>),
        (status = 400, description = "`invalid_status`: not failed, pending or delivered; `invalid_cursor`: a cursor this server did not give"),
        (status = 403, description = "`forbidden`: platform admins only"),
    ))]
pub async fn webhooks(State(s): AppS, Caller(p): Caller, q: Params) -> AppResult<Response> {
    let limit = parse_limit(q.get("limit"), 50, 200)?;
    let (page, next) = s
        .chat
        .webhook_deliveries(&p, q.get("status"), limit, q.get("cursor"))
        .await?;
    Ok(page_body(&page, next))
}
