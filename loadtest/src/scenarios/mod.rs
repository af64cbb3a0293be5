//! The load scenarios.

mod churn;
mod connect;
mod fanout;
mod member;

pub use churn::{presence_churn, typing_storm};
pub use connect::connect;
pub use fanout::fanout;

use std::sync::Arc;
use std::time::Duration;

use crate::stats::Stats;

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
