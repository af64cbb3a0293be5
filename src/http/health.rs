//! Liveness and readiness probes.

use std::sync::atomic::Ordering;

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::AppS;
use crate::domain::error::AppError;

/// Alive: the process answers.
pub async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// Ready: started, not draining, and the database answers.
pub async fn readyz(axum::extract::State(s): AppS) -> Response {
    if !s.ready.load(Ordering::Acquire) {
        return AppError::unavailable("not_ready", "this node is starting or draining")
            .into_response();
    }
    match s.chat.store.ping().await {
        Ok(()) => {
            Json(json!({ "status": "ready", "database": s.chat.store.kind() })).into_response()
        }
        Err(_) => AppError::unavailable("database_unavailable", "the database does not answer")
            .into_response(),
    }
}
