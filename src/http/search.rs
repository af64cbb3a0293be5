//! REST: `GET /chat/search?q=&roomId=&limit=&cursor=`, full-text message search.

use axum::extract::State;
use axum::response::Response;

use super::extract::{Caller, Params};
use super::{page_body, AppS};
use crate::domain::error::AppResult;
use crate::domain::paging::parse_limit;
use crate::domain::search::SearchQuery;

/// `{ data: [{ message, snippet }], nextCursor }`, best first (limit default 20, at most 100).
pub async fn search(State(s): AppS, Caller(p): Caller, q: Params) -> AppResult<Response> {
    let limit = parse_limit(q.get("limit"), 20, 100)?;
    let query = SearchQuery::parse(
        q.get("q"),
        q.get("roomId"),
        limit,
        q.get("cursor"),
        &s.chat.limits.search,
    )?;
    let (hits, next) = s.chat.search(&p, &query).await?;
    Ok(page_body(&hits, next))
}
