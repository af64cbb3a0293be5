//! The REST API on :4500: router and response shapes (request spans and metrics: `observe`).

mod admin;
mod extract;
mod health;
mod meetings;
mod messages;
mod observe;
mod openapi;
mod reactions;
mod rooms;
mod routes;
mod search;
mod status;
pub mod timeout;
mod uploads;
mod web;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;

use crate::app::AppState;
use crate::domain::error::AppError;

/// The success body of the contract: `{ "data": … }`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Data<T> {
    pub data: T,
}

/// A page of a list: `{ "data": [ … ], "nextCursor": … }` (`null` on the last page).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Passed back unchanged as `cursor` for the next page; `null` on the last one.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// The error body of the contract: `{ "error": { "code", "message" } }`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A snake_case code: what a client acts on (docs/API.md, "Error codes").
    pub code: String,
    /// For people; it may change between versions.
    pub message: String,
}

/// `{ "data": … }` with a status.
pub fn data<T: Serialize>(status: u16, v: &T) -> Response {
    let code = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK);
    (code, Json(Data { data: v })).into_response()
}

/// `{ "data": [ … ], "nextCursor": … }`.
pub fn page_body<T: Serialize>(items: &[T], next: Option<String>) -> Response {
    Json(json!({ "data": items, "nextCursor": next })).into_response()
}

pub fn router(state: Arc<AppState>) -> Router {
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods(tower_http::cors::Any)
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
        ]);
    routes::add(Router::new())
        .fallback(|| async { AppError::new(404, "not_found", "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            AppError::new(
                405,
                "method_not_allowed",
                "method not allowed on this endpoint",
            )
        })
        .layer(axum::middleware::from_fn(observe::track))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            close_unless_ready,
        ))
        .layer(cors)
        .with_state(state)
}

/// A response that left the request body unread says `Connection: close` too.
/// While the node is not ready (draining, or still starting), every response says
/// `Connection: close`: a load balancer's keep-alive connection ends after an answered
/// request instead of sitting idle until the listener closes it, which would race with
/// a request sent on it. The same flag as `/readyz`, so its 503 always carries it.
async fn close_unless_ready(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    // A 413 (or 408, or an upload's 415) leaves the request body unread, so the connection cannot be reused:
    // saying so keeps a client from sending its next request on a closing connection.
    let unread = matches!(resp.status().as_u16(), 408 | 413 | 415);
    if unread || !s.ready.load(std::sync::atomic::Ordering::Acquire) {
        resp.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    resp
}

pub(crate) type AppS = State<Arc<AppState>>;

/// The REST shape of an error: its status, `{ error: { code, message } }`, and
/// `Retry-After` when rate limited.
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        use axum::http::{HeaderValue, StatusCode};
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.into(),
                message: self.message,
            },
        };
        let mut resp = (status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                resp.headers_mut().insert("retry-after", v);
            }
        }
        resp
    }
}
