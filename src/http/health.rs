//! Liveness and readiness probes.

use std::sync::atomic::Ordering;

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::AppS;
use crate::domain::error::AppError;

/// What the probes answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` (alive) or `ready`.
    #[schema(value_type = String)]
    status: &'static str,
    /// `/readyz` only: `sqlite` or `postgres`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    database: Option<&'static str>,
}

/// Alive: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "probes",
    responses((status = 200, description = "Alive", body = Health, example = json!({ "status": "ok" }))))]
pub async fn healthz() -> Response {
    Json(Health {
        status: "ok",
        database: None,
    })
    .into_response()
}

/// Ready: started, not draining, and the database answers.
#[utoipa::path(get, path = "/readyz", tag = "probes",
    responses(
        (status = 200, description = "Ready", body = Health, example = json!({ "status": "ready", "database": "sqlite" })),
        (status = 503, description = "`not_ready`: starting or draining; `database_unavailable`: the database does not answer"),
    ))]
pub async fn readyz(axum::extract::State(s): AppS) -> Response {
    if !s.ready.load(Ordering::Acquire) {
        return AppError::unavailable("not_ready", "this node is starting or draining")
            .into_response();
    }
    match s.chat.store.ping().await {
        Ok(()) => Json(Health {
            status: "ready",
            database: Some(s.chat.store.kind()),
        })
        .into_response(),
        Err(_) => AppError::unavailable("database_unavailable", "the database does not answer")
            .into_response(),
    }
}
