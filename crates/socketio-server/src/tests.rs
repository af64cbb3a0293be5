//! Engine tests without a network: a session on long-polling whose queued packets are
//! read back, and a handler that can be held at a gate or made to panic.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::out::Out;
use super::session::{lock, Session};
use super::{Args, Config, Event, Handler, Handshake, Server, Socket};

struct TestHandler {
    gate: Arc<Semaphore>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Handler for TestHandler {
    fn connect(&self, _: Arc<Socket>, _: Option<Value>) -> BoxFuture<'static, Result<(), Value>> {
        Box::pin(async { Ok(()) })
    }
    fn event(&self, _: Arc<Socket>, event: Event) -> BoxFuture<'static, Args> {
        let (gate, seen) = (self.gate.clone(), self.seen.clone());
        let name = event.name;
        Box::pin(async move {
            if name == "slow" {
                gate.acquire().await.expect("gate").forget();
            }
            assert_ne!(name, "boom", "the handler panics");
            seen.lock().unwrap().push(name);
            json!({ "ok": true }).into()
        })
    }
    fn busy(&self) -> Value {
        json!({ "ok": false })
    }
    fn disconnect(&self, _: Arc<Socket>, _: Vec<Arc<str>>) {}
}

fn server() -> (Server, Arc<TestHandler>) {
    let server = Server::new(Config {
        ping_interval: Duration::from_secs(25),
        ping_timeout: Duration::from_secs(20),
        connect_timeout: Duration::from_secs(45),
        max_payload: 1 << 20,
        handshake: |_| Box::new(()),
        max_buffered_bytes: super::DEFAULT_MAX_BUFFERED_BYTES,
        max_pending_per_address: 0,
        metrics_prefix: "test".into(),
    });
    let handler = Arc::new(TestHandler {
        gate: Arc::new(Semaphore::new(0)),
        seen: Default::default(),
    });
    server.set_handler(handler.clone());
    (server, handler)
}

/// A session on long-polling.
pub(crate) fn session(server: &Server) -> Arc<Session> {
    let hs: Handshake = Box::new(());
    server.create(hs, Out::polling(), None).expect("open")
}

/// A session on long-polling with a socket connected to `/`.
async fn connected(server: &Server) -> (Arc<Session>, Arc<Socket>) {
    let s = session(server);
    assert!(server.on_text(&s, "40".to_string()));
    until(|| s.socket("/").is_some_and(|x| x.connected())).await;
    take(&s);
    let socket = s.socket("/").expect("socket");
    (s, socket)
}

/// The packets waiting for the session's next poll (taken).
pub(crate) fn take(s: &Session) -> Vec<String> {
    match &mut *lock(&s.out) {
        Out::Polling { queue, queued, .. } => super::out::take_polling(queue, queued)
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect(),
        _ => Vec::new(),
    }
}

pub(crate) async fn until(mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("condition not reached");
}

#[tokio::test]
async fn events_waiting_behind_a_slow_one_are_bounded_by_their_bytes() {
    let (server, handler) = server();
    let (conn, _) = connected(&server).await;
    assert!(server.on_text(&conn, r#"421["slow",{}]"#.to_string()));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let big = format!(r#""{}""#, "x".repeat(300_000));
    for id in 2..=6 {
        assert!(server.on_text(&conn, format!(r#"42{id}["big",{big}]"#)));
    }
    // Three fit in 1 MiB behind the running one; the fourth and fifth are refused at once.
    let refused = take(&conn);
    assert_eq!(
        refused,
        vec![r#"435[{"ok":false}]"#, r#"436[{"ok":false}]"#]
    );
    handler.gate.add_permits(1);
    until(|| handler.seen.lock().unwrap().len() == 4).await;
    let acks = take(&conn);
    let ok: Vec<String> = (1..=4)
        .map(|id| format!(r#"43{id}[{{"ok":true}}]"#))
        .collect();
    assert_eq!(acks, ok);
    // The bound frees as they run: another big one is taken again.
    assert!(server.on_text(&conn, format!(r#"427["big",{big}]"#)));
    until(|| handler.seen.lock().unwrap().len() == 5).await;
    assert_eq!(take(&conn), vec![r#"437[{"ok":true}]"#]);
}

#[tokio::test]
async fn a_handler_that_panics_does_not_stop_the_socket_from_being_served() {
    let (server, handler) = server();
    let (conn, _) = connected(&server).await;
    assert!(server.on_text(&conn, r#"421["boom",{}]"#.to_string()));
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(server.on_text(&conn, r#"422["after",{}]"#.to_string()));
    until(|| handler.seen.lock().unwrap().contains(&"after".to_string())).await;
    assert_eq!(take(&conn), vec![r#"432[{"ok":true}]"#]);
}

#[tokio::test]
async fn broadcasts_held_during_a_replay_follow_it_in_order() {
    let (server, _) = server();
    let (conn, socket) = connected(&server).await;
    assert!(server.join(&socket, "r"));
    let hold = socket.hold();
    server.broadcast(&["r"], None, "live", &json!(1)).await;
    socket
        .send(&Bytes::from_static(br#"42["replay",0]"#))
        .unwrap();
    assert_eq!(take(&conn), vec![r#"42["replay",0]"#], "the live one waits");
    drop(hold);
    server.broadcast(&["r"], None, "live", &json!(2)).await;
    assert_eq!(take(&conn), vec![r#"42["live",1]"#, r#"42["live",2]"#]);
}

#[tokio::test]
async fn a_long_polling_session_whose_output_overflows_is_closed_by_the_heartbeat_at_once() {
    let (server, _) = server();
    let (s, socket) = connected(&server).await;
    for i in 0..=super::out::MAX_QUEUED_PACKETS {
        let _ = socket.emit("x", &i);
    }
    let start = std::time::Instant::now();
    until(|| s.is_closed()).await;
    assert!(start.elapsed() < Duration::from_millis(100));
    assert!(socket.is_closed() && server.sessions() == 0);
}
