//! REST: rooms and members.

use axum::extract::State;
use axum::response::Response;

use super::extract::{Caller, Ids, JsonBody, Params};
use super::{data, page_body, AppS};
use crate::domain::error::AppResult;
use crate::domain::paging::parse_limit;
use crate::domain::requests::parse;
use crate::service::format_cursor;

pub async fn open_personal(
    State(s): AppS,
    Caller(p): Caller,
    JsonBody(b): JsonBody,
) -> AppResult<Response> {
    let (room, created) = s.chat.open_personal(&p, parse(b)?).await?;
    Ok(data(if created { 201 } else { 200 }, &room))
}

pub async fn create_group(
    State(s): AppS,
    Caller(p): Caller,
    JsonBody(b): JsonBody,
) -> AppResult<Response> {
    let room = s.chat.create_group(&p, parse(b)?).await?;
    Ok(data(201, &room))
}

pub async fn list_rooms(State(s): AppS, Caller(p): Caller, q: Params) -> AppResult<Response> {
    let limit = parse_limit(q.get("limit"), 50, 100)?;
    let page = s.chat.list_rooms(&p, limit, q.get("cursor")).await?;
    let next = page.next_cursor.map(|(at, id)| format_cursor(at, &id));
    Ok(page_body(&page.rooms, next))
}

pub async fn detail(
    State(s): AppS,
    Caller(p): Caller,
    Ids(room_id): Ids<String>,
) -> AppResult<Response> {
    Ok(data(200, &s.chat.room_detail(&p, &room_id).await?))
}

/// Extension: `GET /chat/rooms/{id}/members?cursor=&limit=` (default 100, at most 500).
pub async fn members(
    State(s): AppS,
    Caller(p): Caller,
    Ids(room_id): Ids<String>,
    q: Params,
) -> AppResult<Response> {
    let limit = parse_limit(q.get("limit"), 100, 500)?;
    let page = s
        .chat
        .room_members(&p, &room_id, q.get("cursor"), limit)
        .await?;
    Ok(page_body(&page.members, page.next_cursor))
}

pub async fn add_members(
    State(s): AppS,
    Caller(p): Caller,
    Ids(room_id): Ids<String>,
    JsonBody(b): JsonBody,
) -> AppResult<Response> {
    Ok(data(
        200,
        &s.chat.add_members(&p, &room_id, parse(b)?).await?,
    ))
}

pub async fn remove_member(
    State(s): AppS,
    Caller(p): Caller,
    Ids((room_id, user_id)): Ids<(String, String)>,
) -> AppResult<Response> {
    s.chat.remove_member(&p, &room_id, &user_id).await?;
    Ok(data(
        200,
        &serde_json::json!({ "roomId": room_id, "userId": user_id, "removed": true }),
    ))
}

/// Extension: `POST /chat/rooms/{id}/block`.
pub async fn block(
    State(s): AppS,
    Caller(p): Caller,
    Ids(room_id): Ids<String>,
) -> AppResult<Response> {
    Ok(data(200, &s.chat.block_room(&p, &room_id).await?))
}

/// Extension: `DELETE /chat/rooms/{id}/block`.
pub async fn unblock(
    State(s): AppS,
    Caller(p): Caller,
    Ids(room_id): Ids<String>,
) -> AppResult<Response> {
    Ok(data(200, &s.chat.unblock_room(&p, &room_id).await?))
}
