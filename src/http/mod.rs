//! The REST API on :4500: router and response shapes (request spans and metrics: `observe`).

mod admin;
mod extract;
mod health;
mod meetings;
mod messages;
mod observe;
mod rooms;
mod search;
mod status;
pub mod timeout;
mod uploads;
mod web;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;

use crate::app::AppState;
use crate::domain::error::AppError;

/// `{ "data": … }` with a status.
pub fn data<T: Serialize>(status: u16, v: &T) -> Response {
    let code = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK);
    (code, Json(json!({ "data": v }))).into_response()
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
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/chat/rooms/personal", post(rooms::open_personal))
        .route("/chat/rooms/group", post(rooms::create_group))
        .route("/chat/rooms", get(rooms::list_rooms))
        .route("/chat/rooms/{room_id}", get(rooms::detail))
        .route(
            "/chat/rooms/{room_id}/members",
            post(rooms::add_members).get(rooms::members),
        )
        .route(
            "/chat/rooms/{room_id}/block",
            post(rooms::block).delete(rooms::unblock),
        )
        .route(
            "/chat/rooms/{room_id}/members/{user_id}",
            delete(rooms::remove_member),
        )
        .route(
            "/chat/rooms/{room_id}/messages",
            post(messages::send).get(messages::history),
        )
        .route(
            "/chat/rooms/{room_id}/messages/{message_id}",
            delete(messages::delete).patch(messages::edit),
        )
        .route(
            "/chat/rooms/{room_id}/messages/{message_id}/reactions/{emoji}",
            put(messages::react_add)
                .delete(messages::react_remove)
                .get(messages::reactors),
        )
        .route(
            "/chat/rooms/{room_id}/messages/{message_id}/replies",
            get(messages::replies),
        )
        .route("/chat/rooms/{room_id}/pins", get(messages::pins))
        .route(
            "/chat/rooms/{room_id}/pins/{message_id}",
            put(messages::pin).delete(messages::unpin),
        )
        .route(
            "/chat/rooms/{room_id}/messages/{message_id}/seen-by",
            get(messages::seen_by),
        )
        .route("/chat/rooms/{room_id}/seen", post(messages::seen))
        .route(
            "/chat/rooms/{room_id}/meeting",
            post(meetings::start)
                .get(meetings::get)
                .delete(meetings::end),
        )
        .route("/chat/rooms/{room_id}/meetings", get(meetings::history))
        .route("/chat/meetings/ice-servers", get(meetings::ice_servers))
        .route("/chat/uploads", post(uploads::upload))
        .route("/chat/uploads/{upload_id}", get(uploads::download))
        .route("/chat/search", get(search::search))
        .route("/app", get(web::redirect))
        .route("/app/", get(web::index))
        .route("/app/config.json", get(web::config))
        .route("/app/try-token", post(web::try_token))
        .route("/app/{*path}", get(web::asset))
        .route("/chat/status", put(status::set))
        .route("/chat/users/{user_id}/status", get(status::get))
        .route("/chat/ws/stats", get(status::stats))
        .route("/chat/admin/webhooks", get(admin::webhooks))
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
        let mut resp = (status, axum::Json(self.to_body())).into_response();
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                resp.headers_mut().insert("retry-after", v);
            }
        }
        resp
    }
}
