//! Tests of what bounds a client: unsent output in bytes (long-polling, WebSocket, held
//! broadcasts), sessions not yet connected per address, the connection limit, and the
//! header read timeout.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::out::Out;
use super::tests::until;
use super::{
    Args, ClientAddress, Config, ConnectionLimit, Event, Handler, ServeOptions, Server, Socket,
};

const MAX: usize = 64 * 1024;

/// Keeps every socket that connects.
#[derive(Default)]
struct Keep(Mutex<Vec<Arc<Socket>>>);

impl Handler for Arc<Keep> {
    fn connect(&self, s: Arc<Socket>, _: Option<Value>) -> BoxFuture<'static, Result<(), Value>> {
        self.0.lock().unwrap().push(s);
        Box::pin(async { Ok(()) })
    }
    fn event(&self, _: Arc<Socket>, _: Event) -> BoxFuture<'static, Args> {
        Box::pin(async { Args::none() })
    }
    fn busy(&self) -> Value {
        Value::Null
    }
    fn disconnect(&self, _: Arc<Socket>, _: Vec<Arc<str>>) {}
}

fn engine(pending: usize) -> (Server, Arc<Keep>) {
    let io = Server::new(Config {
        ping_interval: Duration::from_secs(25),
        ping_timeout: Duration::from_secs(20),
        connect_timeout: Duration::from_secs(45),
        max_payload: 1 << 20,
        handshake: |_| Box::new(()),
        max_buffered_bytes: MAX,
        max_pending_per_address: pending,
        metrics_prefix: "test".into(),
    });
    let keep = Arc::new(Keep::default());
    io.set_handler(Arc::new(keep.clone()));
    (io, keep)
}

/// A listener for `io` with `options`; a request's `x-test-addr` header stands for its
/// client address.
async fn listen(io: &Server, options: ServeOptions) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let app = io
        .router(axum::Router::new())
        .layer(axum::middleware::map_request(
            |mut req: axum::extract::Request| async move {
                let a = req
                    .headers()
                    .get("x-test-addr")
                    .and_then(|v| v.to_str().ok());
                if let Some(ip) = a.and_then(|v| v.parse().ok()) {
                    req.extensions_mut().insert(ClientAddress(ip));
                }
                req
            },
        ));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(super::serve_with(listener, app, stopped, options));
    std::mem::forget(stop);
    addr
}

/// One request on a connection of its own: the status and body.
async fn request(addr: &str, head: &str, body: &str) -> (u16, String) {
    let mut c = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{head} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    c.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
    (status, body.unwrap_or_default())
}

/// A long-polling handshake from `ip`: the status, and the sid if opened.
async fn handshake(addr: &str, ip: &str) -> (u16, Option<String>) {
    let mut c = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nx-test-addr: {ip}\r\n\
         Connection: close\r\n\r\n"
    );
    c.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
    let sid = body
        .and_then(|b| serde_json::from_str::<Value>(b.get(1..)?).ok())
        .and_then(|v| v["sid"].as_str().map(str::to_string));
    (status, sid)
}

fn big() -> String {
    "x".repeat(4000)
}

#[tokio::test]
async fn a_long_polling_client_that_never_polls_is_closed_once_its_output_passes_the_byte_limit() {
    let (io, keep) = engine(0);
    let s = super::tests::session(&io);
    assert!(io.on_text(&s, "40".to_string()));
    until(|| keep.0.lock().unwrap().len() == 1).await;
    let socket = keep.0.lock().unwrap()[0].clone();
    let mut sent = 0;
    while socket.emit("m", &big()).is_ok() {
        sent += 1;
        if let Out::Polling { queued, .. } = &*super::session::lock(&s.out) {
            assert!(*queued <= MAX, "{queued} bytes queued");
        }
        assert!(sent < 1000, "never closed");
    }
    // Far fewer than the 4096 packets the count bound alone would allow.
    assert!(sent <= MAX / 4000, "{sent} sent");
    until(|| s.is_closed() && io.sessions() == 0).await;
}

#[tokio::test]
async fn broadcasts_held_for_a_replay_are_bounded_by_their_bytes() {
    let (io, keep) = engine(0);
    let s = super::tests::session(&io);
    assert!(io.on_text(&s, "40".to_string()));
    until(|| keep.0.lock().unwrap().len() == 1).await;
    let socket = keep.0.lock().unwrap()[0].clone();
    assert!(io.join(&socket, "r"));
    let _hold = socket.hold();
    for _ in 0..100 {
        io.broadcast(&["r"], None, "m", &big()).await;
    }
    until(|| s.is_closed()).await;
}

#[tokio::test]
async fn a_websocket_client_that_never_reads_is_closed_once_its_unsent_output_passes_the_limit() {
    let (io, keep) = engine(0);
    let addr = listen(&io, ServeOptions::default()).await;
    let mut c = TcpStream::connect(&addr).await.unwrap();
    c.write_all(
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await
    .unwrap();
    // A masked "40": connect to `/`. Nothing is read from here on.
    c.write_all(&[0x81, 0x82, 0, 0, 0, 0, b'4', b'0'])
        .await
        .unwrap();
    until(|| keep.0.lock().unwrap().len() == 1).await;
    let socket = keep.0.lock().unwrap()[0].clone();
    let chunk = "y".repeat(200_000);
    let mut sent = 0usize;
    while socket.emit("m", &chunk).is_ok() {
        sent += chunk.len();
        // Kernel buffers take some (a few MB on loopback); the process holds at most MAX.
        assert!(sent < 200 << 20, "never closed");
        tokio::task::yield_now().await;
    }
    until(|| io.sessions() == 0).await;
    drop(c);
}

#[tokio::test]
async fn a_flood_of_handshakes_from_one_address_is_refused_while_another_address_connects() {
    let (io, _) = engine(3);
    let addr = listen(&io, ServeOptions::default()).await;
    let mut sids = Vec::new();
    for _ in 0..3 {
        let (status, sid) = handshake(&addr, "192.0.2.1").await;
        assert_eq!(status, 200);
        sids.push(sid.unwrap());
    }
    for _ in 0..5 {
        assert_eq!(handshake(&addr, "192.0.2.1").await.0, 429);
    }
    assert_eq!(handshake(&addr, "192.0.2.2").await.0, 200);
    // One of the first connects to a namespace: its place is free again.
    let post = format!("POST /socket.io/?EIO=4&transport=polling&sid={}", sids[0]);
    assert_eq!(request(&addr, &post, "40").await.0, 200);
    until(|| io.connected() == 1).await;
    assert_eq!(handshake(&addr, "192.0.2.1").await.0, 200);
    assert_eq!(handshake(&addr, "192.0.2.1").await.0, 429);
}

#[tokio::test]
async fn over_the_connection_limit_new_connections_get_503_and_old_ones_keep_working() {
    let (io, _) = engine(0);
    let limit = ConnectionLimit::new(2, metrics::Counter::noop());
    let options = ServeOptions {
        header_read_timeout: Duration::from_secs(10),
        limit: Some(limit.clone()),
    };
    let addr = listen(&io, options).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    until(|| limit.open() == 2).await;
    let (status, body) = request(&addr, "GET /socket.io/?EIO=4&transport=polling", "").await;
    assert_eq!(status, 503);
    assert!(body.contains("too_many_connections"), "{body}");
    // An open connection is still served.
    let c = &mut held[0];
    c.write_all(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 12];
    c.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"HTTP/1.1 200");
    held.clear();
    until(|| limit.open() == 0).await;
    let (status, _) = request(&addr, "GET /socket.io/?EIO=4&transport=polling", "").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_request_whose_headers_never_end_is_closed_after_the_header_read_timeout() {
    let (io, _) = engine(0);
    let options = ServeOptions {
        header_read_timeout: Duration::from_millis(300),
        limit: None,
    };
    let addr = listen(&io, options).await;
    let mut c = TcpStream::connect(&addr).await.unwrap();
    c.write_all(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let start = std::time::Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(3), c.read_to_end(&mut rest));
    assert!(read.await.is_ok(), "still open after 3 s");
    assert!(start.elapsed() >= Duration::from_millis(250));
    // An idle keep-alive connection is closed too.
    let mut c = TcpStream::connect(&addr).await.unwrap();
    let read = tokio::time::timeout(Duration::from_secs(3), c.read_to_end(&mut rest));
    assert!(read.await.is_ok(), "idle connection still open after 3 s");
}

#[tokio::test]
async fn a_stopped_listener_refuses_new_connections_and_ends_once_requests_in_flight_are_answered()
{
    let (io, _) = engine(0);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let app = io.router(axum::Router::new());
    let served = tokio::spawn(super::serve_with(
        listener,
        app,
        stopped,
        ServeOptions::default(),
    ));
    let (_, sid) = handshake(&addr, "192.0.2.1").await;
    let poll = format!(
        "GET /socket.io/?EIO=4&transport=polling&sid={}",
        sid.unwrap()
    );
    let waiting = tokio::spawn({
        let addr = addr.clone();
        async move { request(&addr, &poll, "").await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(true).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(TcpStream::connect(&addr).await.is_err(), "still accepting");
    assert!(!served.is_finished(), "a poll is still waiting");
    io.close_all();
    assert_eq!(waiting.await.unwrap(), (200, "1".to_string()));
    tokio::time::timeout(Duration::from_secs(2), served)
        .await
        .expect("ends once the poll is answered")
        .unwrap();
}
