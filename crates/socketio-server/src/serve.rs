//! The HTTP/1 listener: WebSocket upgrades hand over the TCP socket itself (so writes go
//! straight to it); a header read timeout that also ends idle keep-alive connections; an
//! optional connection limit shared between ports (a connection over it gets a 503 and
//! is closed); a graceful stop that lets requests in flight finish.

use std::convert::Infallible;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};
use tower::ServiceExt;

use super::limits::{ConnectionLimit, Permit};

/// How a port serves its connections.
#[derive(Clone)]
pub struct ServeOptions {
    /// A request's headers must arrive within this, and an idle keep-alive connection
    /// is closed after this long without a new request.
    pub header_read_timeout: Duration,
    /// Connections open at most, shared by the ports given the same limit.
    pub limit: Option<Arc<ConnectionLimit>>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Duration::from_secs(10),
            limit: None,
        }
    }
}

/// Refused connections answered at once; past this many a refused connection is just
/// closed (each holds a file descriptor while its 503 goes out).
const MAX_REFUSING: usize = 64;

const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
retry-after: 1\r\nconnection: close\r\ncontent-length: 79\r\n\r\n\
{\"error\":{\"code\":\"too_many_connections\",\"message\":\"too many open connections\"}}";

/// A served TCP connection and its place under the connection limit (they travel
/// together into a WebSocket upgrade).
pub(crate) struct Conn {
    stream: TcpStream,
    permit: Option<Permit>,
}

impl Conn {
    pub(crate) fn into_parts(self) -> (TcpStream, Option<Permit>) {
        (self.stream, self.permit)
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Serves `app` on `listener` over HTTP/1 with upgrades and the default options, until
/// `stopped` turns true. Each request carries the peer address as `ConnectInfo`.
pub async fn serve(listener: TcpListener, app: axum::Router, stopped: watch::Receiver<bool>) {
    serve_with(listener, app, stopped, ServeOptions::default()).await
}

/// `serve` with options. Once `stopped` turns true no connection is accepted, open ones
/// close after the request they are answering, and this returns when all are gone.
pub async fn serve_with(
    listener: TcpListener,
    app: axum::Router,
    mut stopped: watch::Receiver<bool>,
    options: ServeOptions,
) {
    // Each connection holds a sender: `recv` ends once all of them are gone.
    let (alive, mut all_gone) = mpsc::channel::<()>(1);
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = async { let _ = stopped.wait_for(|s| *s).await; } => break,
        };
        let permit = match &options.limit {
            None => None,
            Some(limit) => match limit.acquire() {
                Some(p) => Some(p),
                None => {
                    refuse(stream, &refusing);
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let conn = Conn { stream, permit };
        tokio::spawn(connection(
            conn,
            peer,
            app.clone(),
            options.header_read_timeout,
            stopped.clone(),
            alive.clone(),
        ));
    }
    // Closed at once, so new connections are refused (a load balancer tries another
    // node) rather than left waiting in the backlog.
    drop(listener);
    drop(alive);
    let _ = all_gone.recv().await;
}

async fn connection(
    conn: Conn,
    peer: SocketAddr,
    app: axum::Router,
    header_read_timeout: Duration,
    mut stopped: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
) {
    let svc = app.map_request(move |mut req: Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
        req.map(axum::body::Body::new)
    });
    let svc = TowerToHyperService::new(svc.map_err(|e: Infallible| e));
    // A client that never finishes its request headers, or keeps a connection idle, is
    // dropped.
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .serve_connection(TokioIo::new(conn), svc)
        .with_upgrades();
    tokio::pin!(conn);
    let ended = tokio::select! {
        r = conn.as_mut() => Some(r),
        _ = stopped.wait_for(|s| *s) => None,
    };
    let r = match ended {
        Some(r) => r,
        None => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = r {
        tracing::debug!(error = %e, "connection ended");
    }
}

/// A connection over the limit: its request is read (so closing does not reset the
/// connection before the client reads the answer), answered with 503, and closed.
fn refuse(stream: TcpStream, refusing: &Arc<Semaphore>) {
    let Ok(slot) = refusing.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _slot = slot;
        let mut buf = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_millis(500), stream.readable()).await;
        let _ = stream.try_read(&mut buf);
        let _ = stream.try_write(REFUSED);
        super::closing::linger(&stream).await;
    });
}
