//! REST: a room's meeting (start, see, end), its past meetings with attendance, and the
//! ICE servers for WebRTC.

use axum::extract::State;
use axum::response::Response;

use super::extract::{Caller, Ids, MaybeJsonBody, Params};
use super::{data, page_body, AppS};
use crate::domain::error::AppResult;
use crate::domain::paging::parse_limit;
use crate::domain::requests::{parse, StartMeeting};

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

pub async fn get(
    State(s): AppS,
    Caller(p): Caller,
    Ids(room_id): Ids<String>,
) -> AppResult<Response> {
    Ok(data(200, &s.chat.get_meeting(&p, &room_id).await?))
}

pub async fn end(
    State(s): AppS,
    Caller(p): Caller,
    Ids(room_id): Ids<String>,
) -> AppResult<Response> {
    Ok(data(200, &s.chat.end_meeting(&p, &room_id).await?))
}

/// `GET …/meetings?limit=&cursor=` (default 20, at most 100).
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

pub async fn ice_servers(State(s): AppS, Caller(p): Caller) -> AppResult<Response> {
    Ok(data(200, &s.chat.ice_servers(&p)))
}
