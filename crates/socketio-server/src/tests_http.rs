//! Engine tests over a real listener: session ids on the wire, how long-polling answers
//! a close, the heartbeat's timing, and a second WebSocket for an upgraded session.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Args, Config, Event, Handler, Server, Socket};

struct Accept;

impl Handler for Accept {
    fn connect(&self, _: Arc<Socket>, _: Option<Value>) -> BoxFuture<'static, Result<(), Value>> {
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

/// A server on a free port with these timings (ms): ping interval, ping timeout, connect
/// timeout.
async fn listen(ping: u64, timeout: u64, connect: u64) -> (Server, String) {
    let io = Server::new(Config {
        ping_interval: Duration::from_millis(ping),
        ping_timeout: Duration::from_millis(timeout),
        connect_timeout: Duration::from_millis(connect),
        max_payload: 1_000_000,
        handshake: |_| Box::new(()),
        max_buffered_bytes: super::DEFAULT_MAX_BUFFERED_BYTES,
        max_pending_per_address: 0,
        metrics_prefix: "test".into(),
    });
    io.set_handler(Arc::new(Accept));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(super::serve(
        listener,
        io.router(axum::Router::new()),
        stopped,
    ));
    // The listener lives as long as the test's runtime.
    std::mem::forget(stop);
    (io, addr)
}

/// One HTTP/1.1 request on its own connection: the status and the body.
async fn http(addr: &str, method: &str, query: &str, body: &str) -> (u16, String) {
    let mut c = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} /socket.io/?EIO=4&transport=polling{query} HTTP/1.1\r\nHost: x\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    c.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
    (status, body.unwrap_or_default())
}

async fn open(addr: &str) -> String {
    let (_, body) = http(addr, "GET", "", "").await;
    let v: Value = serde_json::from_str(&body[1..]).unwrap();
    v["sid"].as_str().unwrap().to_string()
}

fn sid(s: &str) -> String {
    format!("&sid={s}")
}

#[tokio::test]
async fn a_socket_id_is_no_session_id() {
    let (_io, addr) = listen(10_000, 5_000, 10_000).await;
    let s = open(&addr).await;
    assert_eq!(http(&addr, "POST", &sid(&s), "40").await.0, 200);
    let (_, connected) = http(&addr, "GET", &sid(&s), "").await;
    let v: Value = serde_json::from_str(&connected[2..]).unwrap();
    let socket_id = v["sid"].as_str().unwrap();
    assert_ne!(socket_id, s);
    for method in ["GET", "POST"] {
        let (status, body) = http(&addr, method, &sid(socket_id), "42[\"x\"]").await;
        assert_eq!(status, 400);
        assert!(body.contains("Session ID unknown"), "{body}");
    }
}

#[tokio::test]
async fn a_client_close_ends_the_waiting_poll_with_a_noop_and_a_server_close_with_a_close() {
    let (io, addr) = listen(10_000, 5_000, 10_000).await;
    let s = open(&addr).await;
    let poll = tokio::spawn({
        let (addr, q) = (addr.clone(), sid(&s));
        async move { http(&addr, "GET", &q, "").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(http(&addr, "POST", &sid(&s), "1").await.0, 200);
    assert_eq!(poll.await.unwrap(), (200, "6".to_string()));
    assert_eq!(http(&addr, "GET", &sid(&s), "").await.0, 400);

    // The close may overtake the poll sent with it: that poll still gets its noop.
    let s = open(&addr).await;
    assert_eq!(http(&addr, "POST", &sid(&s), "1").await.0, 200);
    assert_eq!(
        http(&addr, "GET", &sid(&s), "").await,
        (200, "6".to_string())
    );
    assert_eq!(http(&addr, "GET", &sid(&s), "").await.0, 400);
    let s = open(&addr).await;
    assert_eq!(http(&addr, "POST", &sid(&s), "1").await.0, 200);
    assert_eq!(http(&addr, "POST", &sid(&s), "40").await.0, 400);
    assert_eq!(http(&addr, "GET", &sid(&s), "").await.0, 400);

    let s = open(&addr).await;
    let poll = tokio::spawn({
        let (addr, q) = (addr.clone(), sid(&s));
        async move { http(&addr, "GET", &q, "").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    io.close_all();
    assert_eq!(poll.await.unwrap(), (200, "1".to_string()));
}

#[tokio::test]
async fn pings_and_ping_timeouts_come_on_time_over_long_polling() {
    let (_io, addr) = listen(150, 100, 10_000).await;
    let s = open(&addr).await;
    let start = Instant::now();
    assert_eq!(
        http(&addr, "GET", &sid(&s), "").await,
        (200, "2".to_string())
    );
    let pinged = start.elapsed();
    // No pong: the waiting poll is ended by the close at 250 ms.
    assert_eq!(
        http(&addr, "GET", &sid(&s), "").await,
        (200, "1".to_string())
    );
    let closed = start.elapsed();
    assert!(
        pinged <= Duration::from_millis(190),
        "pinged after {pinged:?}"
    );
    let late = closed.saturating_sub(Duration::from_millis(250));
    assert!(late <= Duration::from_millis(40), "closed {late:?} late");
    assert_eq!(http(&addr, "GET", &sid(&s), "").await.0, 400);
}

#[tokio::test]
async fn a_session_that_connects_to_no_namespace_is_closed_after_the_connect_timeout() {
    let (_io, addr) = listen(10_000, 5_000, 200).await;
    let s = open(&addr).await;
    let start = Instant::now();
    assert_eq!(
        http(&addr, "GET", &sid(&s), "").await,
        (200, "1".to_string())
    );
    let late = start.elapsed().saturating_sub(Duration::from_millis(200));
    assert!(late <= Duration::from_millis(40), "closed {late:?} late");
}

/// A WebSocket upgrade request for session `s`: the response's status line.
async fn websocket(addr: &str, s: &str) -> (String, TcpStream) {
    let mut c = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /socket.io/?EIO=4&transport=websocket&sid={s} HTTP/1.1\r\nHost: x\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    c.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        assert_eq!(
            c.read(&mut b).await.unwrap(),
            1,
            "closed before the response"
        );
        head.push(b[0]);
    }
    let line = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap()
        .to_string();
    (line, c)
}

/// A masked client text frame.
fn text(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x81, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    f.extend_from_slice(payload);
    f
}

#[tokio::test]
async fn a_second_websocket_for_an_upgraded_session_is_let_in_and_closed_at_once() {
    let (_io, addr) = listen(10_000, 5_000, 10_000).await;
    let s = open(&addr).await;
    let (line, mut first) = websocket(&addr, &s).await;
    assert!(line.contains("101"), "{line}");
    first.write_all(&text(b"2probe")).await.unwrap();
    first.write_all(&text(b"5")).await.unwrap();
    for _ in 0..2 {
        let (line, mut second) = websocket(&addr, &s).await;
        assert!(line.contains("101"), "{line}");
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(2), second.read_to_end(&mut rest));
        read.await.expect("not closed").unwrap();
        assert_eq!(rest.first(), Some(&0x88), "a close frame");
    }
    // The session lives on over the first WebSocket; polling it is refused.
    assert_eq!(http(&addr, "GET", &sid(&s), "").await.0, 400);
}
