//! Offline notifications (webhooks) against in-process nodes and a real HTTP receiver in
//! the test (axum on a free port) that fails the first deliveries: every event arrives
//! once, signed, in order per user; plain group messages and users online get nothing;
//! given-up deliveries are listed for admins; bad settings refuse start-up; two nodes on
//! one PostgreSQL database never send the same row twice.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use classchat::config::WebhookConfig;
use common::*;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;

const HOOK_SECRET: &str = "webhook-secret-for-tests-32-bytes-or-more";

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Hit {
    accepted: bool,
    headers: HeaderMap,
    body: String,
}

/// The receiver: answers 500 to the first `fail_first` requests (all of them when
/// `usize::MAX`), holds the first `hang_first` ones for 3 s, then answers 204.
#[derive(Clone)]
struct Receiver {
    url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    async fn start(fail_first: usize, hang_first: usize) -> Receiver {
        let hits: Arc<Mutex<Vec<Hit>>> = Default::default();
        let seen = Arc::new(AtomicUsize::new(0));
        let (h, s) = (hits.clone(), seen.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let (hits, seen) = (h.clone(), s.clone());
                async move {
                    let n = seen.fetch_add(1, Ordering::SeqCst);
                    let accepted = n >= fail_first && n >= hang_first;
                    hits.lock().unwrap().push(Hit {
                        accepted,
                        headers,
                        body,
                    });
                    if n < hang_first {
                        // The client gives up first (and this future is dropped).
                        tokio::time::sleep(Duration::from_secs(3)).await;
                    }
                    if accepted {
                        AxumStatus::NO_CONTENT
                    } else {
                        AxumStatus::INTERNAL_SERVER_ERROR
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            url: format!("http://{addr}/hook"),
            hits,
        }
    }

    /// The accepted deliveries' bodies, in arrival order.
    fn accepted(&self) -> Vec<Value> {
        let hits = self.hits.lock().unwrap();
        hits.iter()
            .filter(|h| h.accepted)
            .map(|h| serde_json::from_str(&h.body).unwrap())
            .collect()
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Waits until `n` deliveries were accepted (at most 20 s), then a little longer
    /// so a duplicate would show.
    async fn wait_for(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.accepted().len() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
        self.accepted()
    }
}

/// Fast retries for tests: 50 ms doubling to 200 ms, polling every 100 ms.
fn settings(url: &str, max_age_secs: u64) -> WebhookConfig {
    WebhookConfig {
        url: Some(url.to_string()),
        secret: Some(HOOK_SECRET.into()),
        timeout: Duration::from_secs(1),
        max_age: Duration::from_secs(max_age_secs),
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        poll_interval: Duration::from_millis(100),
        concurrency: 4,
    }
}

async fn node(db: Db, rx: &Receiver, max_age_secs: u64) -> TestApp {
    let hooks = settings(&rx.url, max_age_secs);
    spawn_with(db, move |c| c.webhooks = hooks).await
}

/// A test body run on SQLite and on PostgreSQL.
macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                ($body)(Db::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                ($body)(Db::Postgres).await;
            }
        }
    };
}

/// `sha256=<hex HMAC-SHA256>`, computed here independently of the server.
fn expected_signature(body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(HOOK_SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// Every accepted delivery is signed, names its id in the header, and is JSON.
fn check_signed(rx: &Receiver) {
    for hit in rx.hits() {
        let h = |n: &str| {
            hit.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        };
        assert_eq!(h("x-classchat-signature"), expected_signature(&hit.body));
        let body: Value = serde_json::from_str(&hit.body).unwrap();
        assert_eq!(h("x-classchat-event-id"), body["id"].as_str().unwrap());
        assert_eq!(h("content-type"), "application/json");
    }
}

/// The (type, userId) of each accepted delivery for `user`, in arrival order.
fn kinds_of(events: &[Value], user: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["userId"] == user)
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

/// A live socket of `user` (long-polling, connected): the user is online until it ends.
async fn connect(app: &TestApp, user: &str) -> String {
    let base = format!("http://{}/socket.io/?EIO=4&transport=polling", app.socket);
    let open = app
        .http
        .get(&base)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sid = serde_json::from_str::<Value>(&open[1..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("{base}&sid={sid}");
    let t = token(user, "student");
    let sent = app.http.post(&url).body(format!(r#"40{{"token":"{t}"}}"#));
    assert_eq!(sent.send().await.unwrap().status(), StatusCode::OK);
    let connected = app
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(connected.starts_with("40"), "{connected}");
    sid
}

/// The value of a sample line (`name{labels}`) of the node's /metrics.
async fn sample(app: &TestApp, series: &str) -> f64 {
    let text = app.metrics_text().await;
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(series))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap_or(-1.0)
}

on_both!(
    every_kind_of_event_arrives_once_signed_in_order_per_user_after_failed_attempts,
    |db| async move {
        let rx = Receiver::start(3, 0).await;
        let app = node(db, &rx, 60).await;
        let t = token("t1", "teacher");
        let room = app.group(&t, "Physics 101", &["s1", "s2"]).await;
        let mention = app
            .post(
                &format!("/chat/rooms/{room}/messages"),
                &t,
                json!({ "content": "s1, see page 80", "mentions": ["s1"] }),
            )
            .await;
        assert_eq!(mention.status, StatusCode::CREATED);
        app.send(&t, &room, "a plain group message: no webhook")
            .await;
        let dm_room = app
            .post("/chat/rooms/personal", &t, json!({ "userId": "s1" }))
            .await
            .data()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let long = "x".repeat(500);
        let dm = app.send(&t, &dm_room, &long).await;
        let meeting = app
            .post(
                &format!("/chat/rooms/{room}/meeting"),
                &t,
                json!({ "title": "Lab" }),
            )
            .await;
        assert_eq!(meeting.status, StatusCode::CREATED);

        let events = rx.wait_for(6).await;
        assert_eq!(events.len(), 6, "{events:#?}");
        let ids: std::collections::HashSet<_> = events.iter().map(|e| e["id"].clone()).collect();
        assert_eq!(ids.len(), 6, "each event once");
        assert_eq!(
            kinds_of(&events, "s1"),
            [
                "group-invite",
                "mention",
                "direct-message",
                "meeting-started"
            ]
        );
        assert_eq!(kinds_of(&events, "s2"), ["group-invite", "meeting-started"]);
        assert!(
            kinds_of(&events, "t1").is_empty(),
            "the actor is never told"
        );
        assert_eq!(rx.hits().len(), 9, "three refused, then six accepted");
        check_signed(&rx);

        let by_type = |user: &str, kind: &str| {
            events
                .iter()
                .find(|e| e["userId"] == user && e["type"] == kind)
                .unwrap()
                .clone()
        };
        let m = by_type("s1", "mention");
        assert_eq!(m["roomId"], room.as_str());
        assert_eq!(m["messageId"], mention.data()["id"]);
        assert_eq!(m["data"]["roomName"], "Physics 101");
        assert_eq!(m["data"]["roomType"], "group");
        assert_eq!(
            m["data"]["by"],
            json!({ "userId": "t1", "name": "t1 name" })
        );
        assert_eq!(m["data"]["preview"], "s1, see page 80");
        assert!(m["createdAt"].as_str().unwrap().ends_with('Z'));
        let d = by_type("s1", "direct-message");
        assert_eq!(d["messageId"], dm["id"]);
        assert_eq!(d["data"]["roomType"], "personal");
        assert_eq!(d["data"]["preview"].as_str().unwrap().chars().count(), 141);
        let i = by_type("s2", "group-invite");
        assert!(i.get("messageId").is_none());
        assert_eq!(i["data"]["roomName"], "Physics 101");
        let s = by_type("s2", "meeting-started");
        assert_eq!(s["data"]["meetingId"], meeting.data()["id"]);
        assert_eq!(s["data"]["title"], "Lab");

        // The recorder is the process's, shared by this file's tests: at least ours.
        assert!(sample(&app, r#"classchat_webhooks_queued_total{type="mention"}"#).await >= 1.0);
        let total = all_types(&app, "classchat_webhooks_delivered_total").await;
        assert!(total >= 6.0, "{total}");
        let retried = all_types(&app, "classchat_webhooks_retried_total").await;
        assert!(retried >= 3.0, "{retried}");
        assert!(sample(&app, "classchat_webhook_oldest_pending_seconds").await >= 0.0);
        app.stop().await;
    }
);

on_both!(
    plain_group_messages_and_users_online_on_a_socket_get_nothing,
    |db| async move {
        let rx = Receiver::start(0, 0).await;
        let app = node(db, &rx, 60).await;
        let _socket = connect(&app, "s2").await;
        let t = token("t1", "teacher");
        let room = app.group(&t, "Chemistry", &["s1", "s2"]).await;
        app.send(&t, &room, "plain").await;
        let sent = app
            .post(
                &format!("/chat/rooms/{room}/messages"),
                &t,
                json!({ "content": "both of you", "mentions": ["s1", "s2", "t1", "stranger"] }),
            )
            .await;
        assert_eq!(sent.status, StatusCode::CREATED);
        let dm_room = app
            .post("/chat/rooms/personal", &t, json!({ "userId": "s2" }))
            .await
            .data()["id"]
            .as_str()
            .unwrap()
            .to_string();
        app.send(&t, &dm_room, "online: no webhook").await;
        let events = rx.wait_for(2).await;
        assert_eq!(kinds_of(&events, "s1"), ["group-invite", "mention"]);
        assert_eq!(
            events.len(),
            2,
            "nothing for s2 (online) or t1: {events:#?}"
        );
        check_signed(&rx);
        app.stop().await;
    }
);

on_both!(
    deliveries_given_up_after_the_max_age_are_listed_for_admins_only,
    |db| async move {
        let rx = Receiver::start(usize::MAX, 0).await;
        let app = node(db, &rx, 1).await;
        let t = token("t1", "teacher");
        let admin = token("a1", "admin");
        app.group(&t, "History", &["s1", "s2"]).await;
        let path = "/chat/admin/webhooks?status=failed";
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut page = app.get(path, &admin).await;
        while page.data().as_array().map_or(0, Vec::len) < 2 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            page = app.get(path, &admin).await;
        }
        assert_eq!(page.status, StatusCode::OK);
        let rows = page.data().as_array().unwrap().clone();
        assert_eq!(rows.len(), 2, "{rows:#?}");
        for r in &rows {
            assert_eq!(r["status"], "failed");
            assert_eq!(r["type"], "group-invite");
            assert_eq!(r["lastError"], "HTTP 500");
            assert!(r["attempts"].as_i64().unwrap() >= 2, "retried: {r}");
            assert_eq!(r["event"]["id"], r["id"]);
            assert!(r["nextAttemptAt"].is_null());
        }
        let first = app.get(&format!("{path}&limit=1"), &admin).await;
        assert_eq!(first.data().as_array().unwrap().len(), 1);
        let cursor = first.body["nextCursor"].as_str().expect("a second page");
        let second = app
            .get(&format!("{path}&limit=1&cursor={cursor}"), &admin)
            .await;
        assert_eq!(second.data().as_array().unwrap().len(), 1);
        assert_ne!(second.data()[0]["id"], first.data()[0]["id"]);
        assert!(second.body["nextCursor"].is_null());
        let none = app.get("/chat/admin/webhooks?status=pending", &admin).await;
        assert_eq!(none.data(), &json!([]));

        let refused = app.get(path, &t).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::FORBIDDEN, "forbidden")
        );
        let student = app.get(path, &token("s1", "student")).await;
        assert_eq!(student.status, StatusCode::FORBIDDEN);
        let bad = app.get("/chat/admin/webhooks?status=lost", &admin).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        let failed = r#"classchat_webhooks_failed_total{type="group-invite"}"#;
        assert!(sample(&app, failed).await >= 2.0);
        app.stop().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_does_not_answer_in_time_gets_the_event_again() {
    let rx = Receiver::start(0, 1).await;
    let app = node(Db::Sqlite, &rx, 60).await;
    let t = token("t1", "teacher");
    app.group(&t, "Biology", &["s1"]).await;
    let events = rx.wait_for(1).await;
    // The held request ends (refused) after the retry was accepted.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(events.len(), 1);
    assert_eq!(rx.hits().len(), 2, "the timed-out attempt and the retry");
    let hits = rx.hits();
    assert_eq!(
        hits[0].headers.get("x-classchat-event-id"),
        hits[1].headers.get("x-classchat-event-id"),
        "the same event id both times, for the receiver to dedupe"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_without_a_long_enough_secret_refuse_start_up() {
    for (secret, says) in [
        (None, "CLASSCHAT_WEBHOOK_SECRET"),
        (Some("too-short"), "at least 32 bytes"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_config(dir.path().to_path_buf(), None);
        c.webhooks.url = Some("http://127.0.0.1:9/hook".into());
        c.webhooks.secret = secret.map(str::to_string);
        let err = classchat::start(c).await.err().expect("refused");
        assert!(err.contains(says), "{err}");
    }
}

/// Two nodes on one PostgreSQL database, both dispatching: each event is sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_one_database_send_each_event_exactly_once() {
    let url = fresh_pg_database().await;
    let rx = Receiver::start(5, 0).await;
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let (hooks, url) = (settings(&rx.url, 60), url.clone());
        nodes.push(
            spawn_with(Db::Sqlite, move |c| {
                c.database_url = Some(url);
                c.webhooks = hooks;
                c.limits.send = classchat::config::Rate::new(1000, 1000);
                c.limits.send_per_ip = classchat::config::Rate::new(1000, 1000);
            })
            .await,
        );
    }
    let t = token("t1", "teacher");
    let students: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
    let refs: Vec<&str> = students.iter().map(String::as_str).collect();
    let room = nodes[0].group(&t, "Everyone", &refs).await;
    for i in 0..20 {
        let node = &nodes[i % 2];
        let to = &students[i % 10];
        let sent = node
            .post(
                &format!("/chat/rooms/{room}/messages"),
                &t,
                json!({ "content": format!("#{i}"), "mentions": [to] }),
            )
            .await;
        assert_eq!(sent.status, StatusCode::CREATED);
    }
    let events = rx.wait_for(30).await;
    assert_eq!(events.len(), 30, "10 invites and 20 mentions, none twice");
    let ids: std::collections::HashSet<_> = events.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(ids.len(), 30);
    for s in &students {
        let previews: Vec<&str> = events
            .iter()
            .filter(|e| e["userId"] == s.as_str() && e["type"] == "mention")
            .map(|e| e["data"]["preview"].as_str().unwrap())
            .collect();
        let n: usize = s[1..].parse().unwrap();
        assert_eq!(
            previews,
            [format!("#{n}"), format!("#{}", n + 10)],
            "in order"
        );
        assert_eq!(kinds_of(&events, s)[0], "group-invite");
    }
    check_signed(&rx);
    for n in nodes {
        n.stop().await;
    }
}

/// A webhook counter summed over the four event types.
async fn all_types(app: &TestApp, metric: &str) -> f64 {
    let mut total = 0.0;
    for k in [
        "mention",
        "direct-message",
        "group-invite",
        "meeting-started",
    ] {
        total += sample(app, &format!(r#"{metric}{{type="{k}"}}"#)).await;
    }
    total
}
