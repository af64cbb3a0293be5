//! REST: presence status and cluster stats.

use axum::extract::State;
use axum::response::Response;

use super::extract::{Caller, Ids, JsonBody};
use super::{data, AppS};
use crate::domain::error::AppResult;
use crate::domain::requests::{parse, SetStatus};

pub async fn set(State(s): AppS, Caller(p): Caller, JsonBody(b): JsonBody) -> AppResult<Response> {
    let req: SetStatus = parse(b)?;
    Ok(data(200, &s.chat.set_status(&p, req.status()?).await?))
}

pub async fn get(
    State(s): AppS,
    Caller(p): Caller,
    Ids(user_id): Ids<String>,
) -> AppResult<Response> {
    Ok(data(200, &s.chat.get_status(&p, &user_id).await?))
}

pub async fn stats(State(s): AppS, Caller(p): Caller) -> AppResult<Response> {
    Ok(data(200, &s.chat.stats(&p).await?))
}
