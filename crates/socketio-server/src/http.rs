//! The `/socket.io/` endpoint: routes handshakes, polls, posts and upgrades, and the
//! Engine.IO error answers.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{polling, ws, Server};

/// An Engine.IO error answer: `{ "code", "message" }` with status 400 (or `status`).
pub(super) fn engine_error(status: StatusCode, code: u8, message: &str) -> Response {
    let body = serde_json::json!({ "code": code, "message": message }).to_string();
    (status, [("content-type", "application/json")], body).into_response()
}

pub(super) fn bad_request() -> Response {
    engine_error(StatusCode::BAD_REQUEST, 3, "Bad request")
}

/// A handshake from an address with too many sessions not yet connected.
pub(super) fn too_many_pending() -> Response {
    engine_error(
        StatusCode::TOO_MANY_REQUESTS,
        3,
        "Too many pending handshakes",
    )
}

pub(super) fn unknown_session() -> Response {
    engine_error(StatusCode::BAD_REQUEST, 1, "Session ID unknown")
}

#[derive(Default)]
struct Query {
    eio: Option<String>,
    transport: Option<String>,
    sid: Option<String>,
}

fn query(req: &Request) -> Query {
    let mut q = Query::default();
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(req.uri().query().unwrap_or("")).unwrap_or_default();
    for (k, v) in pairs {
        match k.as_str() {
            "EIO" => q.eio = Some(v),
            "transport" => q.transport = Some(v),
            "sid" => q.sid = Some(v),
            _ => {}
        }
    }
    q
}

/// `/socket.io/`: every Engine.IO request.
pub(super) async fn entry(State(server): State<Server>, req: Request) -> Response {
    let q = query(&req);
    if q.eio.as_deref() != Some("4") {
        return engine_error(StatusCode::BAD_REQUEST, 5, "Unsupported protocol version");
    }
    match (req.method(), q.transport.as_deref(), q.sid) {
        (&Method::GET, Some("websocket"), sid) => ws::upgrade(server, req, sid),
        (&Method::GET, Some("polling"), None) => polling::open(&server, req),
        (&Method::GET, Some("polling"), Some(sid)) => polling::poll(server, &sid).await,
        (&Method::POST, Some("polling"), Some(sid)) => polling::post(server, &sid, req).await,
        (_, Some("polling" | "websocket"), _) => {
            engine_error(StatusCode::BAD_REQUEST, 2, "Bad handshake method")
        }
        _ => engine_error(StatusCode::BAD_REQUEST, 0, "Transport unknown"),
    }
}

impl Server {
    /// The routes of the Socket.IO port: `/socket.io/`, and `fallback` for anything else.
    pub fn router(&self, fallback: axum::Router) -> axum::Router {
        // Browser pages on another origin may long-poll: the origin is mirrored and
        // credentials allowed, so `withCredentials: true` (the load balancer's sticky
        // cookie) works. Authentication is the JWT, never a cookie.
        let cors = tower_http::cors::CorsLayer::new()
            .allow_origin(tower_http::cors::AllowOrigin::mirror_request())
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                axum::http::header::AUTHORIZATION,
                axum::http::header::CONTENT_TYPE,
            ]);
        axum::Router::new()
            .route("/socket.io/", axum::routing::any(entry))
            .layer(cors)
            .with_state(self.clone())
            .merge(fallback)
    }
}
