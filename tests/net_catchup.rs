//! Issue 11 #1 against a running node: a long-polling socket that never polls and asks
//! for the replay of a room of 4,000-character messages over and over. One catch-up is
//! bounded by the join's budget; the unsent output by the socket's byte limit.

mod common;

use std::time::{Duration, Instant};

use classchat::config::Rate;
use common::{spawn_with, token, Db, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A long-polling handshake on the Socket.IO port: the sid.
async fn handshake(app: &TestApp) -> String {
    let url = format!("http://{}/socket.io/?EIO=4&transport=polling", app.socket);
    let body = app
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&body[1..]).unwrap();
    v["sid"].as_str().unwrap().to_string()
}

const REPLAYED: &str = "classchat_catchup_replayed_total";

/// The value of an unlabelled sample on the node's `/metrics` (0 when absent).
async fn sample(app: &TestApp, name: &str) -> f64 {
    let text = app.metrics_text().await;
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap_or(0.0)
}

fn poll_url(app: &TestApp, sid: &str) -> String {
    format!(
        "http://{}/socket.io/?EIO=4&transport=polling&sid={sid}",
        app.socket
    )
}

async fn post(app: &TestApp, sid: &str, body: String) -> StatusCode {
    let r = app.http.post(poll_url(app, sid)).body(body).send().await;
    r.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_never_polls_cannot_make_catch_ups_queue_without_bound() {
    let app = spawn_with(Db::Sqlite, |c| {
        c.limits.send = Rate::new(1000, 1000);
        c.limits.send_per_ip = Rate::new(1000, 1000);
    })
    .await;
    let t = token("teacher-z", "teacher");
    let s = token("student-z", "student");
    let room = app.group(&t, "big", &["student-z"]).await;
    let long = "x".repeat(4000);
    for _ in 0..300 {
        app.send(&t, &room, &long).await;
    }
    let sid = handshake(&app).await;
    assert_eq!(
        post(&app, &sid, format!(r#"40{{"token":"{s}"}}"#)).await,
        StatusCode::OK
    );
    let connected = app.http.get(poll_url(&app, &sid)).send().await.unwrap();
    assert!(connected.text().await.unwrap().starts_with("40"));
    let mut last_seq = serde_json::Map::new();
    last_seq.insert(room.clone(), json!(0));
    let join = |id: u32| {
        let args = json!(["join-chat-rooms", { "roomIds": [room], "lastSeq": last_seq }]);
        format!("42{id}{args}")
    };
    // One catch-up, read: bounded by the join's byte budget, with the paging hint.
    assert_eq!(post(&app, &sid, join(1)).await, StatusCode::OK);
    let mut got = String::new();
    while !got.contains("431[") {
        let r = app.http.get(poll_url(&app, &sid)).send().await.unwrap();
        got.push_str(&r.text().await.unwrap());
        // Packets of one poll are separated by 0x1e; polls end on a packet boundary.
        got.push('\x1e');
    }
    let ack = got.split('\x1e').find(|p| p.starts_with("431[")).unwrap();
    let ack: Value = serde_json::from_str(&ack[3..]).unwrap();
    let catch_up = &ack[0]["data"]["catchUp"][0];
    let replayed = catch_up["replayed"].as_u64().unwrap();
    assert!(replayed > 0 && replayed * 4000 <= 512 * 1024, "{catch_up}");
    assert_eq!(catch_up["complete"], false);
    assert_eq!(catch_up["nextAfter"], replayed);
    // Then it never polls again and asks for the replay over and over: once its unsent
    // output passes the limit (1 MiB) the session is closed, not buffered on.
    let slow = "classchat_socket_slow_closed_total";
    let (closed_before, mut replayed) = (sample(&app, slow).await, sample(&app, REPLAYED).await);
    let mut joins = 0;
    while sample(&app, slow).await == closed_before {
        assert!(joins < 10, "still open after {joins} more catch-ups");
        if post(&app, &sid, join(2 + joins)).await != StatusCode::OK {
            break;
        }
        joins += 1;
        // Handled (replayed, or the session closed) before the next one is asked for.
        let deadline = Instant::now() + Duration::from_secs(10);
        while sample(&app, REPLAYED).await == replayed && sample(&app, slow).await == closed_before
        {
            assert!(Instant::now() < deadline, "catch-up {joins} not handled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        replayed = sample(&app, REPLAYED).await;
    }
    assert!(joins <= 3, "closed only after {joins} more catch-ups");
    assert_eq!(post(&app, &sid, join(99)).await, StatusCode::BAD_REQUEST);
    app.stop().await;
}
