//! The WebSocket transport: the upgrade handshake, then one reader task per socket that
//! holds no buffer while idle. A socket either opens on WebSocket, or upgrades its
//! long-polling session (`2probe` / `3probe`, then `5`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::closing::{end_with, linger};
use super::frame::{self, Fatal, Message, Reader};
use super::http::{bad_request, engine_error, too_many_pending, unknown_session};
use super::out::Out;
use super::serve::Conn;
use super::session::{lock, Session};
use super::{packet, Server};

/// How long a long-polling session may take between the WebSocket probe and `5`
/// (Engine.IO's own server allows 10 s).
const UPGRADE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn header_has(req: &Request, name: header::HeaderName, token: &str) -> bool {
    req.headers().get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// Answers the upgrade request with 101 and runs the socket once the connection is
/// handed over. A version other than 13 gets 426 naming 13 (RFC 6455 §4.2.2); a request
/// without the upgrade headers or a proper key gets 400.
pub(super) fn upgrade(server: Server, mut req: Request, sid: Option<String>) -> Response {
    let key = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned();
    let (Some(key), true, true) = (
        key.filter(|k| frame::valid_key(k.as_bytes())),
        header_has(&req, header::UPGRADE, "websocket"),
        header_has(&req, header::CONNECTION, "upgrade"),
    ) else {
        return bad_request();
    };
    let version_ok = req
        .headers()
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v == "13");
    if !version_ok {
        let mut refused = engine_error(StatusCode::UPGRADE_REQUIRED, 3, "Bad request");
        refused.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            header::HeaderValue::from_static("13"),
        );
        return refused;
    }
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return bad_request();
    };
    let existing = match &sid {
        None => None,
        Some(sid) => match server.get(sid) {
            None => return unknown_session(),
            Some(s) => {
                let polling = matches!(&*lock(&s.out), Out::Polling { .. });
                // Another WebSocket has the session (or is taking it over): this one is
                // let in and closed at once, as Engine.IO's own server does.
                Some((polling && !s.upgrading.swap(true, Ordering::AcqRel)).then_some(s))
            }
        },
    };
    let (parts, _) = req.into_parts();
    let admitted = match existing.is_none().then(|| server.admit(&parts)) {
        Some(Err(())) => return too_many_pending(),
        Some(Ok(p)) => p,
        None => None,
    };
    let handshake = existing
        .is_none()
        .then(|| (server.config().handshake)(&parts));
    drop(parts);
    tokio::spawn(async move {
        let taken = match on_upgrade.await {
            Ok(up) => up.downcast::<TokioIo<Conn>>().ok(),
            Err(_) => None,
        };
        let Some(up) = taken else {
            if let Some(Some(s)) = &existing {
                s.upgrading.store(false, Ordering::Release);
            }
            tracing::debug!("websocket upgrade failed");
            return;
        };
        // The connection's place under the connection limit lives as long as this task.
        let (stream, _permit) = up.io.into_inner().into_parts();
        let stream = Arc::new(stream);
        let pending = BytesMut::from(&up.read_buf[..]);
        match (existing, handshake) {
            (Some(Some(s)), _) => upgrade_session(server, s, stream, pending).await,
            (Some(None), _) => {
                let _ = stream.try_write(&frame::close(frame::CLOSE_NORMAL));
                linger(&stream).await;
            }
            (None, Some(handshake)) => open(server, handshake, stream, pending, admitted).await,
            (None, None) => {}
        }
    });
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::UPGRADE, "websocket".to_string()),
            (header::CONNECTION, "Upgrade".to_string()),
            (
                header::SEC_WEBSOCKET_ACCEPT,
                frame::accept_key(key.as_bytes()),
            ),
        ],
    )
        .into_response()
}

/// A session opened on WebSocket: the open packet, then the reader.
async fn open(
    server: Server,
    handshake: super::Handshake,
    stream: Arc<TcpStream>,
    pending: BytesMut,
    admitted: Option<super::limits::Pending>,
) {
    let Some(session) = server.create(handshake, Out::ws(&stream), admitted) else {
        let _ = stream.try_write(&frame::close(frame::CLOSE_NORMAL));
        linger(&stream).await;
        return;
    };
    let cfg = server.config();
    let open = packet::open(
        &session.id,
        false,
        cfg.ping_interval.as_millis() as u64,
        cfg.ping_timeout.as_millis() as u64,
        cfg.max_payload as u64,
    );
    let _ = session.send(&open);
    read(&server, &session, &stream, pending, false).await;
    linger(&stream).await;
}

/// A long-polling session moving to this WebSocket. Until `5` arrives the session still
/// sends over polling; then what was queued there goes out here first.
async fn upgrade_session(
    server: Server,
    session: Arc<Session>,
    stream: Arc<TcpStream>,
    pending: BytesMut,
) {
    read(&server, &session, &stream, pending, true).await;
    session.probed.store(false, Ordering::Release);
    session.upgrading.store(false, Ordering::Release);
    linger(&stream).await;
}

/// After the probe, the poll the client has waiting must end before it sends `5`: it is
/// answered with a noop after a moment (as Engine.IO's own server does, so a `5` that
/// follows at once finds the poll still there and ends it as a 400), and again every
/// moment while the upgrade is still pending.
async fn end_polls(session: Arc<Session>) {
    const NOOP: Bytes = Bytes::from_static(b"6");
    let mut first = true;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if !session.upgrading.load(Ordering::Acquire) {
            return;
        }
        let waiting = match &*lock(&session.out) {
            Out::Polling { waiting, .. } => *waiting,
            _ => return,
        };
        if first || waiting {
            let _ = session.send(&NOOP);
        }
        first = false;
    }
}

/// Switches the session's output to this WebSocket; false if it closed meanwhile. What
/// waited for a poll is written (or queued) before the lock is released, so nothing
/// sent meanwhile can overtake it.
fn switch(session: &Arc<Session>, stream: &Arc<TcpStream>) -> bool {
    let mut out = lock(&session.out);
    let Out::Polling { queue, queued, .. } = &mut *out else {
        return false;
    };
    let frames: Vec<Bytes> = super::out::take_polling(queue, queued)
        .iter()
        .map(|p| match p.strip_prefix(b"b") {
            // A binary packet, kept as base64 for the poll.
            Some(b64) => {
                let data = STANDARD.decode(b64).unwrap_or_default();
                frame::encode(frame::OP_BINARY, &data)
            }
            None => frame::text(p),
        })
        .collect();
    *out = Out::ws(stream);
    let ok = session.write(out, frames.iter()).is_ok();
    // A GET still waiting ends now (with a 400: the session has moved).
    session.wake.notify_one();
    ok
}

/// Reads messages until the socket closes. `upgrading`: the session is not ours yet.
async fn read(
    server: &Server,
    session: &Arc<Session>,
    stream: &Arc<TcpStream>,
    mut buf: BytesMut,
    mut upgrading: bool,
) {
    let max = server.config().max_payload;
    let mut reader = Reader::default();
    // A probe that never completes gives the session back to long-polling.
    let upgrade_deadline = tokio::time::Instant::now() + UPGRADE_TIMEOUT;
    loop {
        loop {
            let msg = match reader.next(&mut buf, max) {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(Fatal(code)) => {
                    end_with(server, session, stream, upgrading, &frame::close(code));
                    return;
                }
            };
            match msg {
                Message::Text(t) if upgrading => match t.as_str() {
                    "2probe" => {
                        let _ = stream.try_write(&frame::text(b"3probe"));
                        if !session.probed.swap(true, Ordering::AcqRel) {
                            tokio::spawn(end_polls(session.clone()));
                        }
                    }
                    "5" => {
                        if !switch(session, stream) {
                            return;
                        }
                        upgrading = false;
                        // The heartbeat pings this session again, from now.
                        let interval = server.config().ping_interval.as_millis() as u64;
                        let due = server.now_ms() + interval;
                        session.ping_due.store(due, Ordering::Release);
                        session.upgrading.store(false, Ordering::Release);
                        session.check_at(due);
                    }
                    _ => return,
                },
                Message::Text(t) => {
                    if !server.on_text(session, t) {
                        return;
                    }
                }
                Message::Binary(_) if upgrading => return,
                Message::Binary(b) => {
                    if !server.on_binary(session, Bytes::from(b)) {
                        return;
                    }
                }
                Message::Ping(p) => {
                    let pong = frame::encode(frame::OP_PONG, &p);
                    if upgrading {
                        let _ = stream.try_write(&pong);
                    } else {
                        let _ = session.send_frame(pong);
                    }
                }
                Message::Pong => {}
                Message::Close(code) => {
                    end_with(
                        server,
                        session,
                        stream,
                        upgrading,
                        &frame::close_reply(code),
                    );
                    return;
                }
            }
        }
        if buf.is_empty() && buf.capacity() > 0 {
            // Idle sockets hold no read buffer.
            buf = BytesMut::new();
        }
        let closing = session.closing.notified();
        tokio::pin!(closing);
        closing.as_mut().enable();
        if session.is_closed() || (!upgrading && session.out_closed()) {
            server.close(session);
            return;
        }
        tokio::select! {
            r = stream.readable() => if r.is_err() { break },
            _ = closing => continue,
            _ = tokio::time::sleep_until(upgrade_deadline), if upgrading => return,
        }
        buf.reserve(1024);
        match stream.try_read_buf(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
    }
    if !upgrading {
        server.close(session);
    }
}
