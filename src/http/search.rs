//! REST: `GET /chat/search?q=&roomId=&limit=&cursor=`, full-text message search.

use axum::extract::State;
use axum::response::Response;

use super::extract::{Caller, Params};
use super::openapi::params::SearchParams;
use super::{page_body, AppS, Page};
use crate::domain::error::AppResult;
use crate::domain::paging::parse_limit;
use crate::domain::search::{SearchHit, SearchQuery};

/// `{ data: [{ message, snippet }], nextCursor }`, best first (limit default 20, at most 100).
#[utoipa::path(get, path = "/chat/search", tag = "search", security(("bearer" = [])),
    params(SearchParams),
    responses(
        (status = 200, description = "A page of hits; `snippet` is HTML with `<mark>` around matches", body = Page<SearchHit>),
        (status = 400, description = "`query_too_long`: `q` over `CLASSCHAT_SEARCH_MAX_QUERY_CHARS`; `invalid_cursor`: a cursor this server did not give"),
        (status = 404, description = "`room_not_found`: `roomId` names no room the caller can read"),
        (status = 429, description = "`rate_limited`: over the search rate"),
        (status = 503, description = "`search_timeout`: PostgreSQL, the search ran past `CLASSCHAT_SEARCH_TIMEOUT_MS`"),
    ))]
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
