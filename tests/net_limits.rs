//! Issue 11's connection fixes, each performed against a running node: invented methods
//! and paths (#3), half-open requests, the connection limit and a handshake flood (#4),
//! and a client choosing its own address with X-Forwarded-For (#5). The catch-up bound
//! (#1) is in `net_catchup.rs`.

mod common;

use std::time::{Duration, Instant};

use classchat::config::{Config, Rate};
use common::{spawn_with, token, Db, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the peer closes; false if it is still open after `within`.
async fn closed_within(c: &mut TcpStream, within: Duration) -> bool {
    let mut sink = Vec::new();
    tokio::time::timeout(within, c.read_to_end(&mut sink))
        .await
        .is_ok()
}

/// The status of the answer that comes on `c` (0 if none).
async fn status_on(c: &mut TcpStream) -> u16 {
    let mut buf = [0u8; 12];
    match tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut buf)).await {
        Ok(Ok(_)) => String::from_utf8_lossy(&buf[9..12]).parse().unwrap_or(0),
        _ => 0,
    }
}

async fn send_as(app: &TestApp, tok: &str, room: &str, xff: Option<&str>) -> StatusCode {
    let mut req = app
        .http
        .post(app.url(&format!("/chat/rooms/{room}/messages")))
        .bearer_auth(tok)
        .json(&json!({ "content": "hi" }));
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    req.send().await.unwrap().status()
}

fn two_sends_per_address(c: &mut Config) {
    c.limits.send_per_ip = Rate::new(1, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_not_behind_a_trusted_proxy_cannot_choose_its_rate_limit_key() {
    let app = spawn_with(Db::Sqlite, two_sends_per_address).await;
    let t = token("teacher-x", "teacher");
    let room = app.group(&t, "g", &["s1"]).await;
    let codes = [
        send_as(&app, &t, &room, Some("198.51.100.1")).await,
        send_as(&app, &t, &room, Some("198.51.100.2")).await,
        send_as(&app, &t, &room, Some("198.51.100.3")).await,
    ];
    assert_eq!(codes[..2], [StatusCode::CREATED, StatusCode::CREATED]);
    assert_eq!(codes[2], StatusCode::TOO_MANY_REQUESTS, "XFF was believed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_trusted_proxy_the_forwarded_address_is_the_rate_limit_key() {
    let app = spawn_with(Db::Sqlite, |c| {
        two_sends_per_address(c);
        c.net.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let t = token("teacher-y", "teacher");
    let room = app.group(&t, "g", &["s1"]).await;
    // The proxy's own hop is the last one: a client's forged hops before it are skipped.
    for x in ["198.51.100.1", "6.6.6.6, 198.51.100.2", "198.51.100.3"] {
        assert_eq!(send_as(&app, &t, &room, Some(x)).await, StatusCode::CREATED);
    }
    let same = "198.51.100.9";
    assert_eq!(
        send_as(&app, &t, &room, Some(same)).await,
        StatusCode::CREATED
    );
    assert_eq!(
        send_as(&app, &t, &room, Some(same)).await,
        StatusCode::CREATED
    );
    assert_eq!(
        send_as(&app, &t, &room, Some(same)).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invented_methods_and_paths_leave_the_metrics_small_and_count_as_other() {
    let app = spawn_with(Db::Sqlite, |_| {}).await;
    let before = app.metrics_text().await.len();
    for i in 0..1000 {
        let method = Method::from_bytes(format!("INVENTED{i}").as_bytes()).unwrap();
        let _ = app
            .http
            .request(method, app.url(&format!("/made/up/{i}")))
            .send()
            .await
            .unwrap();
    }
    let text = app.metrics_text().await;
    // The recorder is shared by the tests of this binary, which run at the same time and
    // add series of their own (a few KiB); a series per invented method would add far
    // more than 32 KiB (1,000 of them, each at least one line of ~80 bytes).
    assert!(
        text.len() < before + 32 * 1024,
        "/metrics grew from {before} to {} bytes",
        text.len()
    );
    assert!(text.contains(r#"method="other""#) && text.contains(r#"route="other""#));
    assert!(!text.contains("INVENTED") && !text.contains("/made/up"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_requests_are_closed_after_the_header_read_timeout_on_every_port() {
    let app = spawn_with(Db::Sqlite, |c| {
        c.net.header_read_timeout = Duration::from_millis(300);
        c.net.request_timeout = Duration::from_millis(500);
    })
    .await;
    for port in [app.api, app.socket, app.metrics] {
        let mut c = TcpStream::connect(port).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let start = Instant::now();
        assert!(
            closed_within(&mut c, Duration::from_secs(3)).await,
            "{port}"
        );
        assert!(start.elapsed() >= Duration::from_millis(250));
        // A connection that never sends anything goes too.
        let mut idle = TcpStream::connect(port).await.unwrap();
        assert!(
            closed_within(&mut idle, Duration::from_secs(3)).await,
            "{port}"
        );
    }
    // A REST body that never arrives: 408 once the request deadline passes.
    let mut c = TcpStream::connect(app.api).await.unwrap();
    let head = format!(
        "POST /chat/rooms/group HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {}\r\nContent-Length: 100\r\n\r\n{{\"name\":",
        token("teacher-w", "teacher")
    );
    c.write_all(head.as_bytes()).await.unwrap();
    assert_eq!(status_on(&mut c).await, 408);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_connection_limit_new_connections_are_refused_cleanly_and_accepted_again_later() {
    let app = spawn_with(Db::Sqlite, |c| c.net.max_connections = 3).await;
    let mut held = Vec::new();
    for port in [app.api, app.socket, app.api] {
        held.push(TcpStream::connect(port).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    for port in [app.api, app.socket, app.metrics] {
        let mut c = TcpStream::connect(port).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(status_on(&mut c).await, 503, "{port}");
    }
    // The open ones are still served.
    let c = &mut held[0];
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(status_on(c).await, 200);
    held.clear();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let text = app.metrics_text().await;
    let refused = text
        .lines()
        .find(|l| l.starts_with("classchat_connections_refused_total"))
        .and_then(|l| l.split_whitespace().last()?.parse::<f64>().ok());
    assert!(refused.is_some_and(|n| n >= 3.0), "{refused:?}");
    let ok = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    app.stop().await;
}

/// A long-polling handshake on the Socket.IO port as `xff` (through the trusted proxy).
async fn handshake(app: &TestApp, xff: &str) -> (StatusCode, String) {
    let r = app
        .http
        .get(format!(
            "http://{}/socket.io/?EIO=4&transport=polling",
            app.socket
        ))
        .header("x-forwarded-for", xff)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body = r.text().await.unwrap();
    let sid = serde_json::from_str::<Value>(body.get(1..).unwrap_or(""))
        .ok()
        .and_then(|v| v["sid"].as_str().map(str::to_string));
    (status, sid.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_flood_from_one_address_is_limited_while_another_address_connects() {
    let app = spawn_with(Db::Sqlite, |c| {
        c.net.max_pending_handshakes_per_ip = 5;
        c.net.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    for _ in 0..5 {
        assert_eq!(handshake(&app, "192.0.2.1").await.0, StatusCode::OK);
    }
    for _ in 0..20 {
        let (status, _) = handshake(&app, "192.0.2.1").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(handshake(&app, "192.0.2.2").await.0, StatusCode::OK);
    app.stop().await;
}
