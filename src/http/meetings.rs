//! REST: a room's meeting (start, see, end), its past meetings with attendance, and the
//! ICE servers for WebRTC.

use axum::extract::State;
use axum::response::Response;

use super::extract::{Caller, Ids, MaybeJsonBody, Params};
use super::openapi::params::{Page20, RoomPath};
use super::{data, page_body, AppS, Data, Page};
use crate::domain::error::AppResult;
use crate::domain::events::MeetingEnded;
use crate::domain::meeting::{IceServers, Meeting, PastMeeting};
use crate::domain::paging::parse_limit;
use crate::domain::requests::{parse, StartMeeting};

/// Starts the room's meeting, or answers the running one. The body may be left out.
#[utoipa::path(post, path = "/chat/rooms/{roomId}/meeting", tag = "meetings",
    security(("bearer" = [])), params(RoomPath),
    request_body(content = StartMeeting, description = "May be left out (no title)"),
    responses(
        (status = 201, description = "Started now", body = Data<Meeting>),
        (status = 200, description = "The meeting already running", body = Data<Meeting>),
        (status = 403, description = "`forbidden`: in a group room, teachers, the owner or room admins start meetings"),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not see"),
        (status = 429, description = "`rate_limited`: over the meeting rate"),
        (status = 503, description = "`meetings_unavailable`: cluster mode, Redis cannot be reached"),
    ))]
pub async fn start(
    State(s): AppS,
    Caller(p): Caller,
    Ids(room_id): Ids<String>,
    MaybeJsonBody(b): MaybeJsonBody,
) -> AppResult<Response> {
    let req: StartMeeting = match b {
        Some(b) => parse(b)?,
        None => StartMeeting::default(),
    };
    let (meeting, started) = s.chat.start_meeting(&p, &room_id, req).await?;
    Ok(data(if started { 201 } else { 200 }, &meeting))
}

/// The room's running meeting with its participants.
#[utoipa::path(get, path = "/chat/rooms/{roomId}/meeting", tag = "meetings",
    security(("bearer" = [])), params(RoomPath),
    responses(
        (status = 200, description = "The running meeting", body = Data<Meeting>),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not see; `no_meeting`: none is running"),
        (status = 503, description = "`meetings_unavailable`: cluster mode, Redis cannot be reached"),
    ))]
pub async fn get(
    State(s): AppS,
    Caller(p): Caller,
    Ids(room_id): Ids<String>,
) -> AppResult<Response> {
    Ok(data(200, &s.chat.get_meeting(&p, &room_id).await?))
}

/// Ends the room's meeting (its hosts).
#[utoipa::path(delete, path = "/chat/rooms/{roomId}/meeting", tag = "meetings",
    security(("bearer" = [])), params(RoomPath),
    responses(
        (status = 200, description = "Ended", body = Data<MeetingEnded>),
        (status = 403, description = "`forbidden`: not a host of the meeting"),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not see; `no_meeting`: none is running"),
        (status = 503, description = "`meetings_unavailable`: cluster mode, Redis cannot be reached"),
    ))]
pub async fn end(
    State(s): AppS,
    Caller(p): Caller,
    Ids(room_id): Ids<String>,
) -> AppResult<Response> {
    Ok(data(200, &s.chat.end_meeting(&p, &room_id).await?))
}

/// The room's meetings, newest first, with attendance (default 20, at most 100).
#[utoipa::path(get, path = "/chat/rooms/{roomId}/meetings", tag = "meetings",
    security(("bearer" = [])), params(RoomPath, Page20),
    responses(
        (status = 200, description = "A page of meetings", body = Page<PastMeeting>),
        (status = 400, description = "`invalid_cursor`: a cursor this server did not give"),
        (status = 404, description = "`room_not_found`: no such room, or one the caller may not see"),
    ))]
pub async fn history(
    State(s): AppS,
    Caller(p): Caller,
    Ids(room_id): Ids<String>,
    q: Params,
) -> AppResult<Response> {
    let limit = parse_limit(q.get("limit"), 20, 100)?;
    let (page, next) = s
        .chat
        .meeting_history(&p, &room_id, limit, q.get("cursor"))
        .await?;
    Ok(page_body(&page, next))
}

/// STUN and TURN servers for `RTCPeerConnection` (TURN credentials last `ttl` seconds).
#[utoipa::path(get, path = "/chat/meetings/ice-servers", tag = "meetings",
    security(("bearer" = [])),
    responses((status = 200, description = "The servers", body = Data<IceServers>)))]
pub async fn ice_servers(State(s): AppS, Caller(p): Caller) -> AppResult<Response> {
    Ok(data(200, &s.chat.ice_servers(&p)))
}
