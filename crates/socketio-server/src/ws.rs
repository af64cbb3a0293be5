//! The WebSocket transport: the upgrade handshake, then one reader task per socket that
//! holds no buffer while idle. A socket either opens on WebSocket, or upgrades its
//! long-polling session (`2probe` / `3probe`, then `5`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::conn::{lock, Conn, Out};
use super::frame::{self, Fatal, Message, Reader};
use super::http::{bad_request, engine_error, unknown_session};
use super::{packet, Server};

/// How long a long-polling session may take between the WebSocket probe and `5`
/// (Engine.IO's own server allows 10 s).
const UPGRADE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a closed socket keeps reading (and dropping) what the client still sends,
/// waiting for it to close its side.
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);

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
            Some(c) => {
                let polling = matches!(&*lock(&c.out), Out::Polling { .. });
                if !polling || c.upgrading.swap(true, Ordering::AcqRel) {
                    return bad_request();
                }
                Some(c)
            }
        },
    };
    let (parts, _) = req.into_parts();
    let handshake = existing
        .is_none()
        .then(|| (server.config().handshake)(&parts));
    drop(parts);
    tokio::spawn(async move {
        let taken = match on_upgrade.await {
            Ok(up) => up.downcast::<TokioIo<TcpStream>>().ok(),
            Err(_) => None,
        };
        let Some(up) = taken else {
            if let Some(c) = &existing {
                c.upgrading.store(false, Ordering::Release);
            }
            tracing::debug!("websocket upgrade failed");
            return;
        };
        let stream = Arc::new(up.io.into_inner());
        let pending = BytesMut::from(&up.read_buf[..]);
        match (existing, handshake) {
            (Some(conn), _) => upgrade_session(server, conn, stream, pending).await,
            (None, Some(handshake)) => open(server, handshake, stream, pending).await,
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

fn ws_out(stream: &Arc<TcpStream>) -> Out {
    Out::Ws {
        stream: stream.clone(),
        queue: Default::default(),
        queued: 0,
        flushing: false,
    }
}

/// A session opened on WebSocket: the open packet, then the reader.
async fn open(
    server: Server,
    handshake: super::Handshake,
    stream: Arc<TcpStream>,
    pending: BytesMut,
) {
    let Some(conn) = server.create(handshake, ws_out(&stream)) else {
        let _ = stream.try_write(&frame::close(frame::CLOSE_NORMAL));
        linger(&stream).await;
        return;
    };
    let cfg = server.config();
    let open = packet::open(
        &conn.id,
        false,
        cfg.ping_interval.as_millis() as u64,
        cfg.ping_timeout.as_millis() as u64,
        cfg.max_payload as u64,
    );
    let _ = conn.send(&open);
    read(&server, &conn, &stream, pending, false).await;
    linger(&stream).await;
}

/// A long-polling session moving to this WebSocket. Until `5` arrives the session still
/// sends over polling; then what was queued there goes out here first.
async fn upgrade_session(
    server: Server,
    conn: Arc<Conn>,
    stream: Arc<TcpStream>,
    pending: BytesMut,
) {
    read(&server, &conn, &stream, pending, true).await;
    conn.upgrading.store(false, Ordering::Release);
    linger(&stream).await;
}

/// Ends a TCP connection whose close frame went out (RFC 6455 §7.1.1: the server closes
/// first): our side at once (FIN), then what the client still sends (its close reply, or
/// frames it sent before it saw ours) is read and dropped until it closes its side, for
/// at most `LINGER`. Closing with unread bytes would make the kernel reset the
/// connection, which can destroy the close frame before the client reads it.
async fn linger(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Write);
    let deadline = tokio::time::sleep(LINGER);
    tokio::pin!(deadline);
    // Allocated only now: idle sockets keep no buffer.
    let mut sink = vec![0u8; 4096];
    loop {
        tokio::select! {
            r = stream.readable() => if r.is_err() { return },
            _ = &mut deadline => return,
        }
        match stream.try_read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

/// Sends the close frame that ends the socket (an answer to the client's, or the code
/// of a protocol error) and closes the session, unless it is not ours yet.
fn end_with(server: &Server, conn: &Arc<Conn>, stream: &TcpStream, upgrading: bool, close: &[u8]) {
    if upgrading {
        let _ = stream.try_write(close);
    } else {
        super::conn::end(&mut lock(&conn.out), Some(close));
        server.close(conn);
    }
}

/// Switches the session's output to this WebSocket; false if it closed meanwhile. What
/// waited for a poll is written (or queued) before the lock is released, so nothing
/// sent meanwhile can overtake it.
fn switch(conn: &Arc<Conn>, stream: &Arc<TcpStream>) -> bool {
    let mut out = lock(&conn.out);
    let Out::Polling { queue, .. } = &mut *out else {
        return false;
    };
    let frames: Vec<Bytes> = std::mem::take(queue)
        .iter()
        .map(|p| frame::text(p))
        .collect();
    *out = ws_out(stream);
    let ok = conn.write_frames(out, frames.iter()).is_ok();
    // The pending GET (if any) answers with a noop now.
    conn.wake.notify_one();
    ok
}

/// Reads messages until the socket closes. `upgrading`: the session is not ours yet.
async fn read(
    server: &Server,
    conn: &Arc<Conn>,
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
                    end_with(server, conn, stream, upgrading, &frame::close(code));
                    return;
                }
            };
            match msg {
                Message::Text(t) if upgrading => match t.as_str() {
                    "2probe" => {
                        let _ = stream.try_write(&frame::text(b"3probe"));
                        // Ends the pending GET, so the client can send `5`.
                        let _ = conn.send(&Bytes::from_static(b"6"));
                    }
                    "5" => {
                        if !switch(conn, stream) {
                            return;
                        }
                        upgrading = false;
                        // The heartbeat pings this session again, from now.
                        let interval = server.config().ping_interval.as_millis() as u64;
                        conn.ping_due
                            .store(server.now_ms() + interval, Ordering::Release);
                        conn.upgrading.store(false, Ordering::Release);
                    }
                    _ => return,
                },
                Message::Text(t) => {
                    if !server.on_text(conn, &t) {
                        return;
                    }
                }
                Message::Binary(_) => server.on_binary(conn),
                Message::Ping(p) => {
                    let pong = frame::encode(frame::OP_PONG, &p);
                    if upgrading {
                        let _ = stream.try_write(&pong);
                    } else {
                        let _ = conn.send_frame(pong);
                    }
                }
                Message::Pong => {}
                Message::Close(code) => {
                    end_with(server, conn, stream, upgrading, &frame::close_reply(code));
                    return;
                }
            }
        }
        if buf.is_empty() && buf.capacity() > 0 {
            // Idle sockets hold no read buffer.
            buf = BytesMut::new();
        }
        let closing = conn.closing.notified();
        tokio::pin!(closing);
        closing.as_mut().enable();
        if conn.is_closed() || (!upgrading && conn.out_closed()) {
            server.close(conn);
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
        server.close(conn);
    }
}
