//! REST: the admins' view of offline notifications (`GET /chat/admin/webhooks`).

use axum::extract::State;
use axum::response::Response;

use super::extract::{Caller, Params};
use super::{page_body, AppS};
use crate::domain::error::AppResult;
use crate::domain::paging::parse_limit;

/// `GET /chat/admin/webhooks?status=failed|pending|delivered&limit=&cursor=` (default
/// failed; 50 a page, at most 200).
pub async fn webhooks(State(s): AppS, Caller(p): Caller, q: Params) -> AppResult<Response> {
    let limit = parse_limit(q.get("limit"), 50, 200)?;
    let (page, next) = s
        .chat
        .webhook_deliveries(&p, q.get("status"), limit, q.get("cursor"))
        .await?;
    Ok(page_body(&page, next))
}
