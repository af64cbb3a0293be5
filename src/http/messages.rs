//! REST: messages, history, deletion, edits, read receipts.

use axum::extract::State;
use axum::response::Response;

use super::extract::{Caller, ClientAddr, Ids, JsonBody, Params};
use super::openapi::params::{HistoryQuery, MessagePath, RoomPath};
use super::{data, page_body, AppS, Data, Page};
use crate::domain::error::AppResult;
use crate::domain::events::MessagesSeen;
use crate::domain::paging::parse_limit;
use crate::domain::requests::{parse, EditMessage, MarkSeen, SendMessage};
use crate::domain::{HistoryQueryDir, Message};
use crate::service::SeenBy;

/// Stores a message, then broadcasts `new-chat-message` to the room.
#[utoipa::path(post, path = "/chat/rooms/{roomId}/messages", tag = "messages",
    security(("bearer" = [])), params(RoomPath), request_body = SendMessage,
    responses(
        (status = 201, description = "The stored message", body = Data<Message>),
        (status = 200, description = "The first message sent with this `clientMessageId`", body = Data<Message>),
        (status = 400, description = "`invalid_content`: empty or whitespace only; `invalid_reply_to`: `replyToId` is not a message of this room; `invalid_attachment`: not a complete upload of the sender's"),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not see; `message_not_found`: `forwardFromId` names no message the caller can read"),
        (status = 409, description = "`message_deleted`: forwarding a deleted message"),
        (status = 413, description = "`content_too_large`: over `CLASSCHAT_MAX_CONTENT_CHARS`; `too_many_mentions`, `too_many_attachments`: over their limits"),
        (status = 429, description = "`rate_limited`: over the send rate (per user or per address)"),
    ))]
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

/// The room's messages: newest first, or oldest first after a `seq`.
#[utoipa::path(get, path = "/chat/rooms/{roomId}/messages", tag = "messages",
    security(("bearer" = [])), params(RoomPath, HistoryQuery),
    responses(
        (status = 200, description = "A page of messages; `nextCursor` is a `seq`", body = Page<Message>),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not see"),
    ))]
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

/// Deletes a message (idempotent): answers its tombstone.
#[utoipa::path(delete, path = "/chat/rooms/{roomId}/messages/{messageId}", tag = "messages",
    security(("bearer" = [])), params(RoomPath, MessagePath),
    responses(
        (status = 200, description = "The tombstone", body = Data<Message>),
        (status = 403, description = "`forbidden`: the caller may not delete this message"),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not see; `message_not_found`: no such message in this room"),
    ))]
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

/// Edits the caller's own message.
#[utoipa::path(patch, path = "/chat/rooms/{roomId}/messages/{messageId}", tag = "messages",
    security(("bearer" = [])), params(RoomPath, MessagePath), request_body = EditMessage,
    responses(
        (status = 200, description = "The message with its new content", body = Data<Message>),
        (status = 400, description = "`invalid_content`: empty or whitespace only"),
        (status = 403, description = "`forbidden`: not the caller's message"),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not see; `message_not_found`: no such message in this room"),
        (status = 409, description = "`message_deleted`: the message is deleted"),
        (status = 413, description = "`content_too_large`: over `CLASSCHAT_MAX_CONTENT_CHARS`"),
        (status = 429, description = "`rate_limited`: edits count against the send rate"),
    ))]
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

/// A read receipt: `{ upToSeq }` or `{ messageIds }`.
#[utoipa::path(post, path = "/chat/rooms/{roomId}/seen", tag = "messages",
    security(("bearer" = [])), params(RoomPath), request_body = MarkSeen,
    responses(
        (status = 200, description = "The receipt", body = Data<MessagesSeen>),
        (status = 403, description = "`forbidden`: a platform admin who is not a member"),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not see; `message_not_found`: none of `messageIds` is in the room"),
    ))]
pub async fn seen(
    State(s): AppS,
    Caller(p): Caller,
    Ids(room_id): Ids<String>,
    JsonBody(b): JsonBody,
) -> AppResult<Response> {
    Ok(data(200, &s.chat.mark_seen(&p, &room_id, parse(b)?).await?))
}

/// The members whose read pointer covers the message (not paged: `nextCursor` is `null`).
#[utoipa::path(get, path = "/chat/rooms/{roomId}/messages/{messageId}/seen-by", tag = "messages",
    security(("bearer" = [])), params(RoomPath, MessagePath),
    responses(
        (status = 200, description = "Who has seen it, by `seenAt`", body = Page<SeenBy>),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not see; `message_not_found`: no such message in this room"),
    ))]
pub async fn seen_by(
    State(s): AppS,
    Caller(p): Caller,
    Ids((room_id, message_id)): Ids<(String, String)>,
) -> AppResult<Response> {
    let rows = s.chat.seen_by(&p, &room_id, &message_id).await?;
    Ok(page_body(&rows, None))
}
