//! Engine tests of namespaces, socket ids, acks and binary attachments, on a long-polling
//! session without a network: what the client would send is handed to the engine and
//! what it would get is read back from the session's queue.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serde_json::{json, Value};

use super::tests::{session, take, until};
use super::{Args, Config, Event, Handler, Server, Socket};

/// Accepts any auth but `{"deny":true}`; acks every event with all its arguments, and
/// echoes `echo` back as `echo-back` (attachments included).
#[derive(Default)]
struct Echo {
    seen: Mutex<Vec<(String, Vec<Value>, usize)>>,
    gone: Mutex<Vec<String>>,
}

impl Handler for Arc<Echo> {
    fn connect(
        &self,
        _: Arc<Socket>,
        auth: Option<Value>,
    ) -> BoxFuture<'static, Result<(), Value>> {
        let deny = auth == Some(json!({ "deny": true }));
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if deny {
                Err(json!({ "message": "denied" }))
            } else {
                Ok(())
            }
        })
    }
    fn event(&self, socket: Arc<Socket>, event: Event) -> BoxFuture<'static, Args> {
        let values = event.values().expect("values");
        let args =
            Args::raw(&event.args().expect("args")).with_attachments(event.attachments().to_vec());
        if event.name == "echo" {
            socket.emit_args("echo-back", &args).expect("emit");
        }
        let n = event.attachments().len();
        self.seen.lock().unwrap().push((event.name, values, n));
        Box::pin(async move { args })
    }
    fn busy(&self) -> Value {
        Value::Null
    }
    fn disconnect(&self, socket: Arc<Socket>, _: Vec<Arc<str>>) {
        self.gone
            .lock()
            .unwrap()
            .push(socket.namespace().to_string());
    }
}

fn server() -> (Server, Arc<Echo>) {
    let server = Server::new(Config {
        ping_interval: Duration::from_secs(25),
        ping_timeout: Duration::from_secs(20),
        connect_timeout: Duration::from_secs(45),
        max_payload: 100,
        handshake: |_| Box::new(()),
        max_buffered_bytes: super::DEFAULT_MAX_BUFFERED_BYTES,
        max_pending_per_address: 0,
        metrics_prefix: "test".into(),
    });
    let echo = Arc::new(Echo::default());
    server.set_handler(Arc::new(echo.clone()));
    server.namespace("/custom", Arc::new(echo.clone()));
    (server, echo)
}

/// Waits for the session's queue to hold `n` packets; takes them.
async fn next(s: &super::Session, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    until(|| {
        got.extend(take(s));
        got.len() >= n
    })
    .await;
    got
}

fn send(server: &Server, s: &Arc<super::Session>, text: &str) -> bool {
    server.on_text(s, text.to_string())
}

#[tokio::test]
async fn one_session_holds_sockets_on_several_namespaces_each_with_its_own_id() {
    let (server, echo) = server();
    let s = session(&server);
    assert!(send(&server, &s, "40"));
    assert!(send(&server, &s, r#"40/custom,{"a":1}"#));
    assert!(send(&server, &s, "40/random"));
    // The unknown namespace is refused at once; the others once their handler accepts.
    let got = next(&s, 3).await;
    assert_eq!(got[0], r#"44/random,{"message":"Invalid namespace"}"#);
    let root: Value = serde_json::from_str(&got[1][2..]).unwrap();
    let custom: Value = serde_json::from_str(got[2].strip_prefix("40/custom,").unwrap()).unwrap();
    let (a, b) = (
        root["sid"].as_str().unwrap(),
        custom["sid"].as_str().unwrap(),
    );
    assert!(
        a != b && a != &*s.id && b != &*s.id,
        "socket ids are their own"
    );
    // Leaving `/custom` leaves `/` connected.
    assert!(send(&server, &s, "41/custom"));
    assert!(send(&server, &s, r#"421["ping",1]"#));
    assert_eq!(next(&s, 1).await, vec![r#"431[1]"#]);
    assert_eq!(*echo.gone.lock().unwrap(), vec!["/custom"]);
    assert!(!s.is_closed());
    assert_eq!(
        (
            server.connected(),
            server.of("/custom").unwrap().connected()
        ),
        (1, 0)
    );
    // Anything but a CONNECT for `/custom` now breaks the protocol.
    assert!(!send(&server, &s, r#"42/custom,["x"]"#));
    assert!(s.is_closed());
    assert_eq!(*echo.gone.lock().unwrap(), vec!["/custom", "/"]);
}

#[tokio::test]
async fn events_wait_behind_a_pending_connect_and_a_refused_one_leaves_no_socket() {
    let (server, echo) = server();
    let s = session(&server);
    assert!(send(&server, &s, "40/custom,"));
    assert!(send(&server, &s, r#"42/custom,5["early",1,2]"#));
    let got = next(&s, 2).await;
    assert!(got[0].starts_with("40/custom,{\"sid\""), "{got:?}");
    assert_eq!(got[1], r#"43/custom,5[1,2]"#);
    assert_eq!(echo.seen.lock().unwrap()[0].1, vec![json!(1), json!(2)]);
    assert!(send(&server, &s, r#"40{"deny":true}"#));
    assert_eq!(next(&s, 1).await, vec![r#"44{"message":"denied"}"#]);
    assert!(!send(&server, &s, r#"42["x"]"#), "no socket on `/`: closed");
}

#[tokio::test]
async fn packets_for_a_namespace_never_connected_close_the_session() {
    for bad in [r#"42["x",1]"#, "41", r#"431[1]"#, r#"42/custom,["x"]"#] {
        let (server, _) = server();
        let s = session(&server);
        assert!(!send(&server, &s, bad), "{bad} was taken");
        assert!(s.is_closed(), "{bad} left the session open");
    }
}

#[tokio::test]
async fn binary_attachments_are_reassembled_and_sent_back_with_acks() {
    let (server, echo) = server();
    let s = session(&server);
    assert!(send(&server, &s, "40"));
    next(&s, 1).await;
    let header = r#"452-7["echo",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    assert!(send(&server, &s, header));
    assert!(server.on_binary(&s, Bytes::from_static(&[1, 2, 3])));
    assert!(server.on_binary(&s, Bytes::from_static(&[4, 5, 6])));
    let got = next(&s, 6).await;
    let placeholders = r#"{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}"#;
    assert_eq!(got[0], format!(r#"452-["echo-back",{placeholders}]"#));
    // On long-polling a binary message goes as `b` and base64.
    assert_eq!(got[1..3], ["bAQID", "bBAUG"]);
    assert_eq!(got[3], format!("462-7[{placeholders}]"));
    assert_eq!(got[4..6], ["bAQID", "bBAUG"]);
    assert_eq!(echo.seen.lock().unwrap()[0].2, 2);
}

#[tokio::test]
async fn attachments_out_of_place_or_beyond_the_limits_close_the_session() {
    let header = r#"451-["echo",{"_placeholder":true,"num":0}]"#;
    type Step = Box<dyn Fn(&Server, &Arc<super::Session>) -> bool>;
    let cases: Vec<(&str, Step)> = vec![
        (
            "a binary message nobody announced",
            Box::new(|sv, s| sv.on_binary(s, Bytes::new())),
        ),
        (
            "text before the attachment",
            Box::new(move |sv, s| send(sv, s, header) && send(sv, s, r#"42["x"]"#)),
        ),
        (
            "more than max_payload in all",
            Box::new(move |sv, s| {
                send(sv, s, r#"452-["echo",1]"#)
                    && sv.on_binary(s, Bytes::from(vec![0; 60]))
                    && sv.on_binary(s, Bytes::from(vec![0; 60]))
            }),
        ),
        (
            "too many announced",
            Box::new(|sv, s| send(sv, s, r#"4511-["echo"]"#)),
        ),
    ];
    for (what, step) in cases {
        let (server, echo) = server();
        let s = session(&server);
        assert!(send(&server, &s, "40"));
        next(&s, 1).await;
        assert!(!step(&server, &s), "{what}: taken");
        assert!(s.is_closed(), "{what}: left open");
        assert!(echo.seen.lock().unwrap().is_empty(), "{what}: ran");
    }
}

#[tokio::test]
async fn a_server_side_disconnect_tells_the_client_and_keeps_the_session() {
    let (server, echo) = server();
    let s = session(&server);
    assert!(send(&server, &s, "40/custom,"));
    next(&s, 1).await;
    let socket = s.socket("/custom").expect("socket");
    assert!(server.of("/custom").unwrap().join(&socket, "r"));
    assert!(!server.join(&socket, "r"), "already in it");
    socket.disconnect();
    assert_eq!(take(&s), vec!["41/custom,"]);
    assert!(server.of("/custom").unwrap().members("r").is_empty());
    assert_eq!(*echo.gone.lock().unwrap(), vec!["/custom"]);
    assert!(!s.is_closed());
}
