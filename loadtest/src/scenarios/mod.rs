//! The load scenarios.

mod churn;
mod class_start;
mod connect;
mod fanout;
mod meeting;
mod member;
mod reactions;
mod search;
mod upload;

pub use churn::{presence_churn, typing_storm};
pub use class_start::class_start;
pub use connect::connect;
pub use fanout::fanout;
pub use meeting::{meeting_signal, meeting_storm};
pub use reactions::reaction_fanout;
pub use search::search;
pub use upload::upload;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::stats::Stats;

/// Waits for deliveries to settle: nothing new for a second, at most 15 s.
pub async fn settle(st: &Stats) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut last = st.deliveries.load(Relaxed);
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = st.deliveries.load(Relaxed);
        if now == last {
            break;
        }
        last = now;
    }
}

/// Prints a progress line to stderr every second until `done` is set.
pub fn progress(st: Arc<Stats>, done: Arc<std::sync::atomic::AtomicBool>) {
    tokio::spawn(async move {
        use std::sync::atomic::Ordering::Relaxed;
        let start = std::time::Instant::now();
        let mut last = 0;
        while !done.load(Relaxed) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let d = st.deliveries.load(Relaxed);
            eprintln!(
                "[{:>5.1}s] sent {} acked {} deliveries {} ({}/s) errors {}",
                start.elapsed().as_secs_f64(),
                st.sent.load(Relaxed),
                st.acked.load(Relaxed),
                d,
                d.saturating_sub(last),
                st.send_errors.load(Relaxed) + st.connect_errors.load(Relaxed),
            );
            last = d;
        }
    });
}

/// Waits until the nodes' CPU use drops under 5% of a core (the status updates of the
/// connect storm are out), at most 5 minutes; the seconds waited.
pub async fn quiet(args: &crate::Args) -> f64 {
    quiet_for(args, Duration::from_secs(1), 0.05).await
}

/// Waits until the nodes use at most `max_cpu` seconds of CPU within one `step` (read
/// every `step`), at most 5 minutes; the seconds until the end of that quiet step.
pub async fn quiet_for(args: &crate::Args, step: Duration, max_cpu: f64) -> f64 {
    let start = Instant::now();
    let cpu = || args.servers().iter().map(|s| s.2).sum::<f64>();
    let mut last = cpu();
    while start.elapsed() < Duration::from_secs(300) {
        tokio::time::sleep(step).await;
        let now = cpu();
        if now - last <= max_cpu {
            break;
        }
        last = now;
    }
    start.elapsed().as_secs_f64()
}

/// Connects with `auth` and joins `room_id`; the socket, or `None` (counted in
/// `connect_errors`).
pub async fn connect_and_join(
    node: std::net::SocketAddr,
    ip: Option<std::net::IpAddr>,
    auth: serde_json::Value,
    events: impl crate::sio::OnEvent,
    room_id: &str,
    st: &Stats,
) -> Option<crate::sio::Socket> {
    use std::sync::atomic::Ordering::Relaxed;
    let sock = match crate::sio::Socket::connect_auth(node, ip, auth, events).await {
        Ok(s) => s,
        Err(e) => {
            st.connect_errors.fetch_add(1, Relaxed);
            eprintln!("connect: {e}");
            return None;
        }
    };
    let ack = sock
        .emit_ack(
            "join-chat-rooms",
            serde_json::json!({ "roomIds": [room_id] }),
        )
        .await;
    if ack.as_ref().and_then(|a| a["ok"].as_bool()) != Some(true) {
        st.connect_errors.fetch_add(1, Relaxed);
        return None;
    }
    Some(sock)
}

/// Awaits connect tasks; the sockets that connected.
pub async fn connected(
    joins: Vec<tokio::task::JoinHandle<Option<crate::sio::Socket>>>,
) -> Vec<crate::sio::Socket> {
    let mut sockets = Vec::new();
    for j in joins {
        if let Ok(Some(s)) = j.await {
            sockets.push(s);
        }
    }
    sockets
}

/// A unique run id, so repeated runs against one database do not collide.
pub fn run_id(prefix: &str) -> String {
    format!("{prefix}-{:x}", crate::stats::now_micros() % 0xffff_ffff)
}

/// A group room owned by `owner` (a teacher) with `members`, added 50 at a time (the
/// server's default per-add limit), on node `r`; its id.
pub async fn create_room(
    args: &crate::Args,
    r: usize,
    owner: &str,
    members: &[String],
) -> Result<String, String> {
    use reqwest::Method;
    use serde_json::json;
    let http = reqwest::Client::new();
    let token = args.token(owner, "teacher");
    let first: Vec<&String> = members.iter().take(50).collect();
    let url = format!("{}/chat/rooms/group", args.api(r));
    let room = crate::rest(
        &http,
        Method::POST,
        url,
        &token,
        Some(json!({ "name": format!("load {r}"), "memberIds": first })),
    )
    .await?;
    let id = room["data"]["id"].as_str().ok_or("no room id")?.to_string();
    for chunk in members[first.len()..].chunks(50) {
        let url = format!("{}/chat/rooms/{id}/members", args.api(r));
        crate::rest(
            &http,
            Method::POST,
            url,
            &token,
            Some(json!({ "userIds": chunk })),
        )
        .await?;
    }
    Ok(id)
}

/// Starts the meeting of room `room_id` as `owner` (a teacher), on node `r`; its id.
pub async fn start_meeting(
    args: &crate::Args,
    r: usize,
    owner: &str,
    room_id: &str,
) -> Result<String, String> {
    let http = reqwest::Client::new();
    let url = format!("{}/chat/rooms/{room_id}/meeting", args.api(r));
    let token = args.token(owner, "teacher");
    let body = serde_json::json!({ "title": format!("load {r}") });
    let m = crate::rest(&http, reqwest::Method::POST, url, &token, Some(body)).await?;
    Ok(m["data"]["id"].as_str().ok_or("no meeting id")?.to_string())
}
