//! The Socket.IO port: an HTTP/1 listener whose WebSocket upgrades hand over the TCP
//! socket itself (so writes go straight to it), and the `/socket.io/` endpoint that
//! routes handshakes, polls, posts and upgrades.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use super::{polling, ws, Server};

/// An Engine.IO error answer: `{ "code", "message" }` with status 400 (or `status`).
pub(super) fn engine_error(status: StatusCode, code: u8, message: &str) -> Response {
    let body = serde_json::json!({ "code": code, "message": message }).to_string();
    (status, [("content-type", "application/json")], body).into_response()
}

pub(super) fn bad_request() -> Response {
    engine_error(StatusCode::BAD_REQUEST, 3, "Bad request")
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

/// Serves `app` on `listener` over HTTP/1 with upgrades, until `stopped` turns true.
/// Each request carries the peer address as `ConnectInfo`.
pub async fn serve(listener: TcpListener, app: axum::Router, mut stopped: watch::Receiver<bool>) {
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = async { let _ = stopped.wait_for(|s| *s).await; } => return,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            let svc = app.map_request(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                req.map(axum::body::Body::new)
            });
            let svc = TowerToHyperService::new(svc.map_err(|e: Infallible| e));
            // A client that never finishes its request headers is dropped.
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades();
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "socket port connection ended");
            }
        });
    }
}
