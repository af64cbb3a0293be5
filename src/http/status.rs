//! REST: presence status and cluster stats.

use axum::extract::State;
use axum::response::Response;

use super::extract::{Caller, Ids, JsonBody};
use super::openapi::params::UserPath;
use super::{data, AppS, Data};
use crate::domain::error::AppResult;
use crate::domain::requests::{parse, SetStatus};
use crate::domain::UserStatus;
use crate::service::ClusterStats;

/// Sets the caller's chosen status (kept only while they have a socket connected).
#[utoipa::path(put, path = "/chat/status", tag = "presence", security(("bearer" = [])),
    request_body = SetStatus,
    responses(
        (status = 200, description = "The caller's status", body = Data<UserStatus>),
        (status = 400, description = "`invalid_status`: not online, away, busy or offline"),
        (status = 429, description = "`rate_limited`: over the status-change rate"),
    ))]
pub async fn set(State(s): AppS, Caller(p): Caller, JsonBody(b): JsonBody) -> AppResult<Response> {
    let req: SetStatus = parse(b)?;
    Ok(data(200, &s.chat.set_status(&p, req.status()?).await?))
}

/// A user's status: the caller's own, a contact's, or (admins) anyone's.
#[utoipa::path(get, path = "/chat/users/{userId}/status", tag = "presence",
    security(("bearer" = [])), params(UserPath),
    responses(
        (status = 200, description = "The status", body = Data<UserStatus>),
        (status = 403, description = "`forbidden`: not the caller, a contact, nor asked by an admin"),
        (status = 404, description = "`user_not_found`: (admins) a user id classchat has never seen"),
    ))]
pub async fn get(
    State(s): AppS,
    Caller(p): Caller,
    Ids(user_id): Ids<String>,
) -> AppResult<Response> {
    Ok(data(200, &s.chat.get_status(&p, &user_id).await?))
}

/// Connection statistics of the cluster and each node (platform admins).
#[utoipa::path(get, path = "/chat/ws/stats", tag = "presence", security(("bearer" = [])),
    responses(
        (status = 200, description = "The figures", body = Data<ClusterStats>),
        (status = 403, description = "`forbidden`: platform admins only"),
    ))]
pub async fn stats(State(s): AppS, Caller(p): Caller) -> AppResult<Response> {
    Ok(data(200, &s.chat.stats(&p).await?))
}
