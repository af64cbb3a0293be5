//! REST: rooms and members.

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

use super::extract::{Caller, Ids, JsonBody, Params};
use super::openapi::params::{MemberPage, Page50, RoomPath, UserPath};
use super::{data, page_body, AppS, Data, Page};
use crate::domain::error::AppResult;
use crate::domain::paging::parse_limit;
use crate::domain::requests::{parse, AddMembers, CreateGroup, CreatePersonal};
use crate::domain::{Member, RoomDetail, RoomSummary};
use crate::service::format_cursor;
use crate::service::BlockState;

/// Opens the 1:1 room between the caller and `userId`.
#[utoipa::path(post, path = "/chat/rooms/personal", tag = "rooms", security(("bearer" = [])),
    request_body = CreatePersonal,
    responses(
        (status = 201, description = "The room, created now", body = Data<RoomDetail>),
        (status = 200, description = "The pair's room, which existed", body = Data<RoomDetail>),
        (status = 400, description = "`invalid_user`: the caller's own id"),
        (status = 403, description = "`forbidden`: the `CLASSCHAT_PERSONAL_ROOMS` policy does not allow it; `blocked`: the other member blocks the room"),
        (status = 429, description = "`rate_limited`: over the room-creation rate"),
    ))]
pub async fn open_personal(
    State(s): AppS,
    Caller(p): Caller,
    JsonBody(b): JsonBody,
) -> AppResult<Response> {
    let (room, created) = s.chat.open_personal(&p, parse(b)?).await?;
    Ok(data(if created { 201 } else { 200 }, &room))
}

/// Creates a group room (teachers and admins); the caller is its owner.
#[utoipa::path(post, path = "/chat/rooms/group", tag = "rooms", security(("bearer" = [])),
    request_body = CreateGroup,
    responses(
        (status = 201, description = "The new room", body = Data<RoomDetail>),
        (status = 400, description = "`invalid_name`: blank or over 100 characters"),
        (status = 403, description = "`forbidden`: the caller is a student"),
        (status = 409, description = "`room_full`: over `CLASSCHAT_MAX_ROOM_MEMBERS`"),
        (status = 413, description = "`too_many_members`: over `CLASSCHAT_MAX_MEMBERS_PER_ADD` ids"),
        (status = 429, description = "`rate_limited`: over the room-creation rate"),
    ))]
pub async fn create_group(
    State(s): AppS,
    Caller(p): Caller,
    JsonBody(b): JsonBody,
) -> AppResult<Response> {
    let room = s.chat.create_group(&p, parse(b)?).await?;
    Ok(data(201, &room))
}

/// The caller's rooms, most recent activity first, with `lastMessage` and `unreadCount`.
#[utoipa::path(get, path = "/chat/rooms", tag = "rooms", security(("bearer" = [])), params(Page50),
    responses(
        (status = 200, description = "A page of rooms", body = Page<RoomSummary>),
        (status = 400, description = "`invalid_cursor`: a cursor this server did not give"),
    ))]
pub async fn list_rooms(State(s): AppS, Caller(p): Caller, q: Params) -> AppResult<Response> {
    let limit = parse_limit(q.get("limit"), 50, 100)?;
    let page = s.chat.list_rooms(&p, limit, q.get("cursor")).await?;
    let next = page.next_cursor.map(|(at, id)| format_cursor(at, &id));
    Ok(page_body(&page.rooms, next))
}

/// The room with its first members.
#[utoipa::path(get, path = "/chat/rooms/{roomId}", tag = "rooms", security(("bearer" = [])),
    params(RoomPath),
    responses(
        (status = 200, description = "The room", body = Data<RoomDetail>),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not see"),
    ))]
pub async fn detail(
    State(s): AppS,
    Caller(p): Caller,
    Ids(room_id): Ids<String>,
) -> AppResult<Response> {
    Ok(data(200, &s.chat.room_detail(&p, &room_id).await?))
}

/// Extension: the room's members in join order (default 100, at most 500).
#[utoipa::path(get, path = "/chat/rooms/{roomId}/members", tag = "rooms", security(("bearer" = [])),
    params(RoomPath, MemberPage),
    responses(
        (status = 200, description = "A page of members", body = Page<Member>),
        (status = 400, description = "`invalid_cursor`: a cursor this server did not give"),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not see"),
    ))]
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

/// Adds members to a group room (its owner, room admins, platform admins).
#[utoipa::path(post, path = "/chat/rooms/{roomId}/members", tag = "rooms", security(("bearer" = [])),
    params(RoomPath), request_body = AddMembers,
    responses(
        (status = 200, description = "The room after the add", body = Data<RoomDetail>),
        (status = 403, description = "`forbidden`: not the owner, a room admin or a platform admin"),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not see"),
        (status = 409, description = "`personal_room`: a 1:1 room; `room_full`: over `CLASSCHAT_MAX_ROOM_MEMBERS`"),
        (status = 413, description = "`too_many_members`: over `CLASSCHAT_MAX_MEMBERS_PER_ADD` ids"),
        (status = 429, description = "`rate_limited`: over the member-add rate"),
    ))]
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

/// What a removal answers.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Removed {
    room_id: String,
    user_id: String,
    removed: bool,
}

/// Removes a member (the caller's own id: leaves the room).
#[utoipa::path(delete, path = "/chat/rooms/{roomId}/members/{userId}", tag = "rooms",
    security(("bearer" = [])), params(RoomPath, UserPath),
    responses(
        (status = 200, description = "Removed", body = Data<Removed>),
        (status = 403, description = "`forbidden`: the rules do not allow it"),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not see; `member_not_found`: not a member"),
        (status = 409, description = "`personal_room`: the other member of a 1:1 room"),
    ))]
pub async fn remove_member(
    State(s): AppS,
    Caller(p): Caller,
    Ids((room_id, user_id)): Ids<(String, String)>,
) -> AppResult<Response> {
    s.chat.remove_member(&p, &room_id, &user_id).await?;
    let removed = Removed {
        room_id,
        user_id,
        removed: true,
    };
    Ok(data(200, &removed))
}

/// Extension: a member of a 1:1 room blocks it.
#[utoipa::path(post, path = "/chat/rooms/{roomId}/block", tag = "rooms", security(("bearer" = [])),
    params(RoomPath),
    responses(
        (status = 200, description = "Blocked", body = Data<BlockState>),
        (status = 404, description = "`room_not_found`: no such room, or the caller is not in it"),
        (status = 409, description = "`not_personal`: a group room, or a 1:1 room the caller is not in"),
    ))]
pub async fn block(
    State(s): AppS,
    Caller(p): Caller,
    Ids(room_id): Ids<String>,
) -> AppResult<Response> {
    Ok(data(200, &s.chat.block_room(&p, &room_id).await?))
}

/// Extension: lifts the caller's block.
#[utoipa::path(delete, path = "/chat/rooms/{roomId}/block", tag = "rooms", security(("bearer" = [])),
    params(RoomPath),
    responses(
        (status = 200, description = "Not blocked", body = Data<BlockState>),
        (status = 404, description = "`room_not_found`: no such room, or the caller is not in it"),
        (status = 409, description = "`not_personal`: a group room, or a 1:1 room the caller is not in"),
    ))]
pub async fn unblock(
    State(s): AppS,
    Caller(p): Caller,
    Ids(room_id): Ids<String>,
) -> AppResult<Response> {
    Ok(data(200, &s.chat.unblock_room(&p, &room_id).await?))
}
