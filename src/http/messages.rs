//! REST: messages, history, deletion, read receipts.

use axum::extract::State;
use axum::response::Response;

use super::extract::{Caller, ClientAddr, Ids, JsonBody, Params};
use super::{data, page_body, AppS};
use crate::domain::error::AppResult;
use crate::domain::paging::parse_limit;
use crate::domain::reaction::ReactionAction;
use crate::domain::requests::parse;
use crate::domain::HistoryQueryDir;

pub async fn send(
    State(s): AppS,
    Caller(p): Caller,
    ClientAddr(addr): ClientAddr,
    Ids(room_id): Ids<String>,
    JsonBody(b): JsonBody,
) -> AppResult<Response> {
    s.chat.rate.send_from(&addr)?;
    let (msg, created) = s.chat.send_message(&p, &room_id, parse(b)?).await?;
    Ok(data(if created { 201 } else { 200 }, &msg))
}

pub async fn history(
    State(s): AppS,
    Caller(p): Caller,
    Ids(room_id): Ids<String>,
    q: Params,
) -> AppResult<Response> {
    let dir = HistoryQueryDir::parse(q.get("before"), q.get("after"))?;
    let limit = parse_limit(q.get("limit"), 50, 100)?;
    let page = s.chat.history(&p, &room_id, dir, limit).await?;
    Ok(page_body(
        &page.messages,
        page.next_cursor.map(|c| c.to_string()),
    ))
}

pub async fn delete(
    State(s): AppS,
    Caller(p): Caller,
    Ids((room_id, message_id)): Ids<(String, String)>,
) -> AppResult<Response> {
    Ok(data(
        200,
        &s.chat.delete_message(&p, &room_id, &message_id).await?,
    ))
}

pub async fn edit(
    State(s): AppS,
    Caller(p): Caller,
    Ids((room_id, message_id)): Ids<(String, String)>,
    JsonBody(b): JsonBody,
) -> AppResult<Response> {
    let edited = s
        .chat
        .edit_message(&p, &room_id, &message_id, parse(b)?)
        .await?;
    Ok(data(200, &edited))
}

/// `PUT` / `DELETE …/messages/{messageId}/reactions/{emoji}`.
async fn react(
    s: AppS,
    p: Caller,
    ids: (String, String, String),
    action: ReactionAction,
) -> AppResult<Response> {
    let (State(s), Caller(p), (room_id, message_id, emoji)) = (s, p, ids);
    let done = s
        .chat
        .react(&p, &room_id, &message_id, &emoji, action)
        .await?;
    Ok(data(200, &done))
}

pub async fn react_add(
    s: AppS,
    p: Caller,
    Ids(ids): Ids<(String, String, String)>,
) -> AppResult<Response> {
    react(s, p, ids, ReactionAction::Add).await
}

pub async fn react_remove(
    s: AppS,
    p: Caller,
    Ids(ids): Ids<(String, String, String)>,
) -> AppResult<Response> {
    react(s, p, ids, ReactionAction::Remove).await
}

/// `GET …/messages/{messageId}/reactions/{emoji}?limit=&cursor=` (default 50, at most 100).
pub async fn reactors(
    State(s): AppS,
    Caller(p): Caller,
    Ids((room_id, message_id, emoji)): Ids<(String, String, String)>,
    q: Params,
) -> AppResult<Response> {
    let limit = parse_limit(q.get("limit"), 50, 100)?;
    let (page, next) = s
        .chat
        .reactors(&p, &room_id, &message_id, &emoji, limit, q.get("cursor"))
        .await?;
    Ok(page_body(&page, next))
}

/// `GET …/messages/{messageId}/replies?limit=&cursor=` (default 50, at most 100).
pub async fn replies(
    State(s): AppS,
    Caller(p): Caller,
    Ids((room_id, message_id)): Ids<(String, String)>,
    q: Params,
) -> AppResult<Response> {
    let limit = parse_limit(q.get("limit"), 50, 100)?;
    let (page, next) = s
        .chat
        .replies(&p, &room_id, &message_id, limit, q.get("cursor"))
        .await?;
    Ok(page_body(&page, next))
}

/// `GET …/pins?limit=&cursor=` (default 50, at most 100).
pub async fn pins(
    State(s): AppS,
    Caller(p): Caller,
    Ids(room_id): Ids<String>,
    q: Params,
) -> AppResult<Response> {
    let limit = parse_limit(q.get("limit"), 50, 100)?;
    let (page, next) = s.chat.pins(&p, &room_id, limit, q.get("cursor")).await?;
    Ok(page_body(&page, next))
}

/// `PUT` / `DELETE …/pins/{messageId}`.
async fn set_pin(s: AppS, p: Caller, ids: (String, String), pinned: bool) -> AppResult<Response> {
    let (State(s), Caller(p), (room_id, message_id)) = (s, p, ids);
    Ok(data(
        200,
        &s.chat.pin(&p, &room_id, &message_id, pinned).await?,
    ))
}

pub async fn pin(s: AppS, p: Caller, Ids(ids): Ids<(String, String)>) -> AppResult<Response> {
    set_pin(s, p, ids, true).await
}

pub async fn unpin(s: AppS, p: Caller, Ids(ids): Ids<(String, String)>) -> AppResult<Response> {
    set_pin(s, p, ids, false).await
}

pub async fn seen(
    State(s): AppS,
    Caller(p): Caller,
    Ids(room_id): Ids<String>,
    JsonBody(b): JsonBody,
) -> AppResult<Response> {
    Ok(data(200, &s.chat.mark_seen(&p, &room_id, parse(b)?).await?))
}

pub async fn seen_by(
    State(s): AppS,
    Caller(p): Caller,
    Ids((room_id, message_id)): Ids<(String, String)>,
) -> AppResult<Response> {
    let rows = s.chat.seen_by(&p, &room_id, &message_id).await?;
    Ok(page_body(&rows, None))
}
