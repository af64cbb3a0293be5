//! Presence over REST (PUT /chat/status, GET /chat/users/{id}/status), cluster
//! stats, and the health probes. A minimal Engine.IO polling client stands in
//! for a connected device where presence needs one.

mod common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const STATUSES: [&str; 4] = ["online", "away", "busy", "offline"];

/// A Socket.IO client over HTTP long-polling (Engine.IO v4) on one kept-alive
/// TCP connection: a device whose presence counts.
struct Device {
    conn: BufReader<TcpStream>,
    host: String,
    target: String,
}

/// One HTTP/1.1 exchange on an open connection: (status, body).
async fn http1(
    conn: &mut BufReader<TcpStream>,
    host: &str,
    method: &str,
    target: &str,
    body: &str,
) -> (u16, String) {
    let req = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.get_mut()
        .write_all(req.as_bytes())
        .await
        .expect("write");
    let mut line = String::new();
    conn.read_line(&mut line).await.expect("status line");
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut len = 0usize;
    let mut chunked = false;
    loop {
        let mut h = String::new();
        conn.read_line(&mut h).await.expect("header");
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "content-length" {
                len = v.parse().expect("content-length");
            }
            if k == "transfer-encoding" && v.contains("chunked") {
                chunked = true;
            }
        }
    }
    let mut out = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            conn.read_line(&mut size).await.expect("chunk size");
            let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
            let mut buf = vec![0u8; n + 2];
            conn.read_exact(&mut buf).await.expect("chunk");
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
    } else {
        let mut buf = vec![0u8; len];
        conn.read_exact(&mut buf).await.expect("body");
        out = buf;
    }
    (status, String::from_utf8_lossy(&out).into_owned())
}

fn packets(payload: &str) -> Vec<&str> {
    payload.split('\u{1e}').collect()
}

impl Device {
    /// Opens an Engine.IO session and connects to namespace `/` with `tok`.
    async fn connect(app: &TestApp, tok: &str) -> Device {
        let host = app.socket.to_string();
        let stream = TcpStream::connect(app.socket).await.expect("connect");
        let mut conn = BufReader::new(stream);
        let base = "/socket.io/?EIO=4&transport=polling";
        let (status, open) = http1(&mut conn, &host, "GET", base, "").await;
        assert_eq!(status, 200, "{open}");
        assert!(open.starts_with('0'), "engine.io open packet: {open}");
        let v: Value = serde_json::from_str(&open[1..]).expect("open payload");
        let sid = v["sid"].as_str().expect("sid").to_string();
        let mut d = Device {
            conn,
            host,
            target: format!("{base}&sid={sid}"),
        };
        let (status, body) = d.post(&format!("40{}", json!({ "token": tok }))).await;
        assert_eq!(status, 200, "namespace connect: {body}");
        for _ in 0..5 {
            let (status, got) = d.poll().await;
            assert_eq!(status, 200, "{got}");
            for p in packets(&got) {
                assert!(!p.starts_with("44"), "connection refused: {got}");
                if p.starts_with("40") {
                    return d;
                }
            }
        }
        panic!("no Socket.IO connect ack");
    }

    async fn post(&mut self, payload: &str) -> (u16, String) {
        http1(&mut self.conn, &self.host, "POST", &self.target, payload).await
    }

    /// One long-poll; answers pings.
    async fn poll(&mut self) -> (u16, String) {
        let got = http1(&mut self.conn, &self.host, "GET", &self.target, "").await;
        if packets(&got.1).contains(&"2") {
            let (status, body) = self.post("3").await;
            assert_eq!(status, 200, "pong: {body}");
        }
        got
    }

    /// Closes the Engine.IO session.
    async fn close(mut self) {
        let (status, body) = self.post("1").await;
        assert_eq!(status, 200, "close: {body}");
    }
}

async fn status_of(app: &TestApp, tok: &str, user: &str) -> Answer {
    app.get(&format!("/chat/users/{user}/status"), tok).await
}

fn assert_status_shape(d: &Value, user: &str) {
    assert_eq!(d["userId"], user, "{d}");
    assert!(
        d["status"].as_str().is_some_and(|s| STATUSES.contains(&s)),
        "{d}"
    );
    assert!(d.get("lastSeen").is_some(), "{d}");
    assert!(d["lastSeen"].is_null() || d["lastSeen"].is_string(), "{d}");
}

/// Polls until `user`'s status as seen by `tok` is `want`.
async fn wait_for_status(app: &TestApp, tok: &str, user: &str, want: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..40 {
        let a = status_of(app, tok, user).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        last = a.data().clone();
        if last["status"] == want {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{user} never became {want}: {last}");
}

both_dbs!(
    putting_each_valid_status_answers_200_with_the_callers_status,
    |app: TestApp| async move {
        let s1 = token("s1", "student");
        for st in STATUSES {
            let a = app.put("/chat/status", &s1, json!({ "status": st })).await;
            assert_eq!(a.status, StatusCode::OK, "{st}: {:?}", a.body);
            assert_status_shape(a.data(), "s1");
        }
    }
);

both_dbs!(
    an_unknown_status_value_is_a_400_invalid_status,
    |app: TestApp| async move {
        let s1 = token("s1", "student");
        for st in ["sleeping", "", "ONLINE", "online "] {
            let a = app.put("/chat/status", &s1, json!({ "status": st })).await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "{st:?}: {:?}", a.body);
            assert_eq!(a.code(), "invalid_status");
        }
        for body in [
            json!({ "status": 1 }),
            json!({}),
            json!(["online"]),
            json!("online"),
        ] {
            let a = app.put("/chat/status", &s1, body.clone()).await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}: {:?}", a.body);
            assert_eq!(a.code(), "invalid_payload", "{body}");
        }
    }
);

both_dbs!(
    a_connected_user_who_chooses_busy_is_seen_busy_by_a_contact,
    |app: TestApp| async move {
        let t1 = token("t1", "teacher");
        let s1 = token("s1", "student");
        app.group(&t1, "Math", &["s1"]).await;
        let device = Device::connect(&app, &s1).await;
        wait_for_status(&app, &t1, "s1", "online").await;

        for st in ["busy", "away", "online"] {
            let a = app.put("/chat/status", &s1, json!({ "status": st })).await;
            assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
            assert_eq!(a.data()["status"], st, "{:?}", a.body);
            let seen = status_of(&app, &t1, "s1").await;
            assert_eq!(seen.data()["status"], st);
        }
        // Invisible: contacts see offline.
        let a = app
            .put("/chat/status", &s1, json!({ "status": "offline" }))
            .await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(status_of(&app, &t1, "s1").await.data()["status"], "offline");
        let a = app
            .put("/chat/status", &s1, json!({ "status": "away" }))
            .await;
        assert_eq!(a.data()["status"], "away");
        device.close().await;
    }
);

both_dbs!(
    a_user_whose_last_device_disconnects_goes_offline_with_a_last_seen,
    |app: TestApp| async move {
        let t1 = token("t1", "teacher");
        let s1 = token("s1", "student");
        app.group(&t1, "Math", &["s1"]).await;
        let before = status_of(&app, &t1, "s1").await;
        assert_eq!(before.status, StatusCode::OK);
        assert_eq!(before.data()["status"], "offline");
        assert!(before.data()["lastSeen"].is_null(), "{:?}", before.body);

        let one = Device::connect(&app, &s1).await;
        let two = Device::connect(&app, &s1).await;
        wait_for_status(&app, &t1, "s1", "online").await;
        one.close().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(status_of(&app, &t1, "s1").await.data()["status"], "online");
        two.close().await;
        wait_for_status(&app, &t1, "s1", "offline").await;
        // The last seen is written just after the user goes offline.
        let mut after = Value::Null;
        for _ in 0..40 {
            after = status_of(&app, &t1, "s1").await.data().clone();
            if after["lastSeen"].is_string() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(after["status"], "offline", "{after}");
        assert!(after["lastSeen"].is_string(), "{after}");
    }
);

both_dbs!(
    a_contacts_status_is_visible_with_user_id_status_and_last_seen,
    |app: TestApp| async move {
        let t1 = token("t1", "teacher");
        let s1 = token("s1", "student");
        let s2 = token("s2", "student");
        app.group(&t1, "Math", &["s1"]).await;
        let a = app
            .post("/chat/rooms/personal", &s2, json!({ "userId": "s1" }))
            .await;
        assert_eq!(a.status, StatusCode::CREATED);
        // Group contact, both ways, and a 1:1 contact.
        for (tok, user) in [(&t1, "s1"), (&s1, "t1"), (&s2, "s1"), (&s1, "s2")] {
            let a = status_of(&app, tok, user).await;
            assert_eq!(a.status, StatusCode::OK, "{user}: {:?}", a.body);
            assert_status_shape(a.data(), user);
            assert_eq!(a.data()["status"], "offline");
        }
        // Your own status.
        let a = status_of(&app, &s1, "s1").await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_status_shape(a.data(), "s1");
    }
);

both_dbs!(a_non_contacts_status_is_403, |app: TestApp| async move {
    let t1 = token("t1", "teacher");
    let s9 = token("s9", "student");
    app.group(&t1, "Math", &["s1"]).await;
    for user in ["s1", "t1", "nobody-at-all"] {
        let a = status_of(&app, &s9, user).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{user}: {:?}", a.body);
        assert_eq!(a.code(), "forbidden");
    }
    // A teacher is no exception.
    let t9 = token("t9", "teacher");
    let a = status_of(&app, &t9, "s1").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
});

both_dbs!(
    a_removed_member_is_no_longer_a_contact,
    |app: TestApp| async move {
        let t1 = token("t1", "teacher");
        let s1 = token("s1", "student");
        let room = app.group(&t1, "Math", &["s1"]).await;
        assert_eq!(status_of(&app, &s1, "t1").await.status, StatusCode::OK);
        let r = app
            .delete(&format!("/chat/rooms/{room}/members/s1"), &t1)
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            status_of(&app, &s1, "t1").await.status,
            StatusCode::FORBIDDEN
        );
    }
);

both_dbs!(
    an_admin_sees_anyones_status_and_gets_404_for_an_unknown_user,
    |app: TestApp| async move {
        let t1 = token("t1", "teacher");
        let a1 = token("a1", "admin");
        app.group(&t1, "Math", &["s1"]).await;
        for user in ["s1", "t1"] {
            let a = status_of(&app, &a1, user).await;
            assert_eq!(a.status, StatusCode::OK, "{user}: {:?}", a.body);
            assert_status_shape(a.data(), user);
        }
        let a = status_of(&app, &a1, "nobody-at-all").await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{:?}", a.body);
        assert_eq!(a.code(), "user_not_found");
    }
);

both_dbs!(
    cluster_stats_show_the_node_with_its_connections_online_users_and_rooms,
    |app: TestApp| async move {
        let a1 = token("a1", "admin");
        let a = app.get("/chat/ws/stats", &a1).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let d = a.data();
        for k in ["connections", "onlineUsers", "activeRooms"] {
            assert!(d[k].is_u64(), "{k} in {d}");
        }
        let nodes = d["nodes"].as_array().expect("nodes");
        assert_eq!(nodes.len(), 1, "{d}");
        assert_eq!(nodes[0]["nodeId"], "test-node");
        for k in ["connections", "onlineUsers", "activeRooms"] {
            assert!(nodes[0][k].is_u64(), "{k} in {d}");
        }
        assert_eq!(d["connections"], 0);

        let device = Device::connect(&app, &token("s1", "student")).await;
        let a = app.get("/chat/ws/stats", &a1).await;
        assert_eq!(a.data()["connections"], 1, "{:?}", a.body);
        assert_eq!(a.data()["onlineUsers"], 1, "{:?}", a.body);
        assert_eq!(a.data()["nodes"][0]["connections"], 1, "{:?}", a.body);
        device.close().await;
    }
);

both_dbs!(healthz_answers_without_a_token, |app: TestApp| async move {
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    // A bad token does not matter there.
    let r = app
        .http
        .get(app.url("/healthz"))
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
});

both_dbs!(
    readyz_answers_ready_with_the_database_kind,
    |app: TestApp| async move {
        let r = app.http.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"], "ready");
        let kind = match app.db {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
        };
        assert_eq!(body["database"], kind);
    }
);

both_dbs!(
    a_socket_io_session_opened_on_one_tcp_connection_is_known_on_another,
    |app: TestApp| async move {
        // socket.io-client keeps a long-poll GET pending on one connection and
        // sends on another (and upgrades to WebSocket on a third), so a session
        // must not be tied to the TCP connection that opened it.
        let app = app;
        let host = app.socket.to_string();
        let mut first = BufReader::new(TcpStream::connect(app.socket).await.unwrap());
        let base = "/socket.io/?EIO=4&transport=polling";
        let (status, open) = http1(&mut first, &host, "GET", base, "").await;
        assert_eq!(status, 200, "{open}");
        let v: Value = serde_json::from_str(&open[1..]).expect("open payload");
        let target = format!("{base}&sid={}", v["sid"].as_str().unwrap());

        let mut second = BufReader::new(TcpStream::connect(app.socket).await.unwrap());
        let connect = format!("40{}", json!({ "token": token("s1", "student") }));
        let (status, body) = http1(&mut second, &host, "POST", &target, &connect).await;
        assert_eq!(
            (status, body.as_str()),
            (200, "ok"),
            "the session is unknown on a second connection"
        );
    }
);
