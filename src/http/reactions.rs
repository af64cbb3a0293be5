//! REST: reactions, replies and pins.

use axum::extract::State;
use axum::response::Response;

use super::extract::{Caller, Ids, Params};
use super::openapi::params::{EmojiPath, MessagePath, Page50, RoomPath};
use super::{data, page_body, AppS, Data, Page};
use crate::domain::error::AppResult;
use crate::domain::events::{ChatMessagePinned, ChatMessageReaction};
use crate::domain::paging::parse_limit;
use crate::domain::reaction::ReactionAction;
use crate::domain::Message;
use crate::service::Reacted;

/// What adding and removing a reaction answer (one list for both operations; its body
/// schema is registered in `openapi::ApiDoc`'s components).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // describes responses for the document; never built
enum ReactResponses {
    #[response(
        status = 200,
        description = "The reaction and the emoji's count after it"
    )]
    Done(Data<ChatMessageReaction>),
    #[response(status = 400, description = "`invalid_emoji`: not one emoji")]
    InvalidEmoji,
    #[response(
        status = 404,
        description = "`room_not_found`: no such room, or one the caller may not see; `message_not_found`: no such message in this room"
    )]
    NotFound,
    #[response(
        status = 409,
        description = "`message_deleted`: the message is deleted"
    )]
    Deleted,
    #[response(
        status = 429,
        description = "`rate_limited`: reactions count against the send rate"
    )]
    RateLimited,
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

/// Adds the caller's reaction (a repeat changes nothing: `changeSeq` 0).
#[utoipa::path(put, path = "/chat/rooms/{roomId}/messages/{messageId}/reactions/{emoji}",
    tag = "messages", security(("bearer" = [])), params(RoomPath, MessagePath, EmojiPath),
    responses(ReactResponses))]
pub async fn react_add(
    s: AppS,
    p: Caller,
    Ids(ids): Ids<(String, String, String)>,
) -> AppResult<Response> {
    react(s, p, ids, ReactionAction::Add).await
}

/// Removes the caller's reaction (when there is none, nothing changes: `changeSeq` 0).
#[utoipa::path(delete, path = "/chat/rooms/{roomId}/messages/{messageId}/reactions/{emoji}",
    tag = "messages", security(("bearer" = [])), params(RoomPath, MessagePath, EmojiPath),
    responses(ReactResponses))]
pub async fn react_remove(
    s: AppS,
    p: Caller,
    Ids(ids): Ids<(String, String, String)>,
) -> AppResult<Response> {
    react(s, p, ids, ReactionAction::Remove).await
}

/// Who reacted with the emoji, in order of reacting (default 50, at most 100).
#[utoipa::path(get, path = "/chat/rooms/{roomId}/messages/{messageId}/reactions/{emoji}",
    tag = "messages", security(("bearer" = [])),
    params(RoomPath, MessagePath, EmojiPath, Page50),
    responses(
        (status = 200, description = "A page of users", body = Page<Reacted>),
        (status = 400, description = "`invalid_emoji`: not one emoji; `invalid_cursor`: a cursor this server did not give"),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not see; `message_not_found`: no such message in this room"),
    ))]
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

/// The messages replying to this one, oldest first (default 50, at most 100).
#[utoipa::path(get, path = "/chat/rooms/{roomId}/messages/{messageId}/replies", tag = "messages",
    security(("bearer" = [])), params(RoomPath, MessagePath, Page50),
    responses(
        (status = 200, description = "A page of replies; `nextCursor` is a `seq`", body = Page<Message>),
        (status = 400, description = "`invalid_cursor`: a cursor this server did not give"),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not see; `message_not_found`: no such message in this room"),
    ))]
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

/// The pinned messages, most recently pinned first (default 50, at most 100).
#[utoipa::path(get, path = "/chat/rooms/{roomId}/pins", tag = "messages",
    security(("bearer" = [])), params(RoomPath, Page50),
    responses(
        (status = 200, description = "A page of pinned messages", body = Page<Message>),
        (status = 400, description = "`invalid_cursor`: a cursor this server did not give"),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not see"),
    ))]
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

/// Pins a message (a pin that changes nothing answers `changeSeq` 0).
#[utoipa::path(put, path = "/chat/rooms/{roomId}/pins/{messageId}", tag = "messages",
    security(("bearer" = [])), params(RoomPath, MessagePath),
    responses(
        (status = 200, description = "The pin", body = Data<ChatMessagePinned>),
        (status = 403, description = "`forbidden`: the caller may not pin in this room"),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not see; `message_not_found`: no such message in this room"),
        (status = 409, description = "`message_deleted`: the message is deleted"),
    ))]
pub async fn pin(s: AppS, p: Caller, Ids(ids): Ids<(String, String)>) -> AppResult<Response> {
    set_pin(s, p, ids, true).await
}

/// Unpins a message (also a deleted one).
#[utoipa::path(delete, path = "/chat/rooms/{roomId}/pins/{messageId}", tag = "messages",
    security(("bearer" = [])), params(RoomPath, MessagePath),
    responses(
        (status = 200, description = "The unpin", body = Data<ChatMessagePinned>),
        (status = 403, description = "`forbidden`: the caller may not unpin in this room"),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not see; `message_not_found`: no such message in this room"),
    ))]
pub async fn unpin(s: AppS, p: Caller, Ids(ids): Ids<(String, String)>) -> AppResult<Response> {
    set_pin(s, p, ids, false).await
}
