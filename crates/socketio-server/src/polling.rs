//! HTTP long-polling: the handshake GET opens a session; each later GET waits for the
//! packets queued for it (a ping comes at least every ping interval); POST bodies carry
//! the client's packets. Packets are separated by the record separator `\x1e`; a binary
//! message travels as `b` and its base64.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};

use super::http::{bad_request, engine_error, too_many_pending, unknown_session};
use super::out::{self, Out};
use super::receive::Piece;
use super::session::{lock, Session};
use super::{packet, Server};

const SEPARATOR: u8 = 0x1e;

fn text(body: Bytes) -> Response {
    (
        StatusCode::OK,
        [("content-type", "text/plain; charset=UTF-8")],
        body,
    )
        .into_response()
}

/// The handshake: a new session, answered with the open packet.
pub(super) fn open(server: &Server, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let Ok(pending) = server.admit(&parts) else {
        return too_many_pending();
    };
    let handshake = (server.config().handshake)(&parts);
    let Some(session) = server.create(handshake, Out::polling(), pending) else {
        return engine_error(StatusCode::SERVICE_UNAVAILABLE, 4, "Server is closing");
    };
    let cfg = server.config();
    text(packet::open(
        &session.id,
        true,
        cfg.ping_interval.as_millis() as u64,
        cfg.ping_timeout.as_millis() as u64,
        cfg.max_payload as u64,
    ))
}

fn join(packets: Vec<Bytes>) -> Bytes {
    if packets.len() == 1 {
        return packets.into_iter().next().unwrap_or_default();
    }
    let mut out = BytesMut::with_capacity(packets.iter().map(|p| p.len() + 1).sum());
    for (i, p) in packets.iter().enumerate() {
        if i > 0 {
            out.put_u8(SEPARATOR);
        }
        out.put_slice(p);
    }
    out.freeze()
}

/// Clears the session's "a GET is waiting" mark however the GET ends (the client may
/// drop the request).
struct Waiting(Arc<Session>);

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Out::Polling { waiting, .. } = &mut *lock(&self.0.out) {
            *waiting = false;
        }
    }
}

/// What a poll answers now, if anything: queued packets; once the session closed, a
/// close packet, or a noop if the client closed it (as Engine.IO's own server answers);
/// a 400 once it moved to WebSocket (the client polls no more by then).
fn take(session: &Session) -> Option<Response> {
    match &mut *lock(&session.out) {
        Out::Polling { queue, queued, .. } if !queue.is_empty() => {
            Some(text(join(out::take_polling(queue, queued))))
        }
        Out::Polling { .. } => None,
        Out::Ws { .. } => Some(bad_request()),
        Out::Closed if session.client_closed.load(Ordering::Acquire) => {
            Some(text(Bytes::from_static(b"6")))
        }
        Out::Closed => Some(text(Bytes::from_static(b"1"))),
    }
}

/// A GET: answers with what is queued, waiting for it if nothing is.
pub(super) async fn poll(server: Server, sid: &str) -> Response {
    if server.lingered(sid) {
        return text(Bytes::from_static(b"6"));
    }
    let Some(session) = server.get(sid) else {
        return unknown_session();
    };
    {
        let mut out = lock(&session.out);
        match &mut *out {
            Out::Polling { waiting: true, .. } => {
                // Two GETs at once break the protocol: the session ends.
                drop(out);
                server.close(&session);
                return bad_request();
            }
            Out::Polling {
                queue,
                queued,
                waiting,
            } => {
                if !queue.is_empty() {
                    return text(join(out::take_polling(queue, queued)));
                }
                *waiting = true;
            }
            Out::Ws { .. } => return bad_request(),
            // Closed since it was looked up: answered below, like a waiting poll.
            Out::Closed => {}
        }
    }
    let guard = Waiting(session);
    let limit = server.config().ping_interval + server.config().ping_timeout;
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let woken = guard.0.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if let Some(answer) = take(&guard.0) {
            if guard.0.is_closed() {
                // This was the poll a session closed by its client was kept for.
                server.forget(&guard.0);
            }
            return answer;
        }
        if tokio::time::timeout_at(deadline, woken).await.is_err() {
            return text(Bytes::from_static(b"6"));
        }
    }
}

/// A POST: the client's packets, handled in order.
pub(super) async fn post(server: Server, sid: &str, req: Request) -> Response {
    let Some(session) = server.get(sid) else {
        return unknown_session();
    };
    if !matches!(&*lock(&session.out), Out::Polling { .. }) {
        return bad_request();
    }
    let max = server.config().max_payload;
    // A body that does not arrive within the ping timeout ends the session, as a late
    // pong would.
    let read = axum::body::to_bytes(req.into_body(), max);
    let body = match tokio::time::timeout(server.config().ping_timeout, read).await {
        Ok(Ok(b)) => b,
        Err(_) => {
            server.close(&session);
            return bad_request();
        }
        Ok(Err(_)) => {
            // Over the limit (or cut off): the session ends, as on a WebSocket.
            server.close(&session);
            return engine_error(StatusCode::PAYLOAD_TOO_LARGE, 3, "Payload too large");
        }
    };
    let Ok(all) = std::str::from_utf8(&body) else {
        server.close(&session);
        return bad_request();
    };
    for p in all.split(SEPARATOR as char) {
        let go_on = match p.strip_prefix('b') {
            Some(b64) => match STANDARD.decode(b64) {
                Ok(data) => server.on_binary(&session, Bytes::from(data)),
                Err(_) => {
                    server.close(&session);
                    false
                }
            },
            None => server.on_text(
                &session,
                Piece {
                    body: &body,
                    text: p,
                },
            ),
        };
        if !go_on {
            break;
        }
    }
    (
        StatusCode::OK,
        [("content-type", "text/html; charset=UTF-8")],
        "ok",
    )
        .into_response()
}
