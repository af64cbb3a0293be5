//! reaction-fanout: one message in a room of `--members` members, every member
//! connected; `--reactors` of them toggle a reaction (add, remove, add …) at `--rate`
//! reactions/s all together. Each member logs the `changeSeq` and arrival time of every
//! `chat-message-reaction`; latency is joined afterwards with the send time of the
//! reaction the ack named, and every acknowledged change must reach every member once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::{create_room, progress, quiet, run_id};
use crate::sio::{OnEvent, Socket};
use crate::stats::{self, now_micros, Stats};
use crate::Args;

/// `changeSeq` → when it was sent (µs), for every acknowledged reaction.
type Sent = Arc<Mutex<HashMap<u64, u64>>>;
/// What each member received: (changeSeq, arrival µs).
type Logs = Arc<Mutex<Vec<Vec<(u64, u64)>>>>;

struct Watcher {
    log: Vec<(u64, u64)>,
    st: Arc<Stats>,
    out: Logs,
}

#[derive(Deserialize)]
struct Packet(serde::de::IgnoredAny, Body);
#[derive(Deserialize)]
struct Body {
    data: Change,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Change {
    change_seq: u64,
}

impl OnEvent for Watcher {
    fn on_event(&mut self, packet: &str) {
        if !packet.starts_with("[\"chat-message-reaction\",") {
            return;
        }
        if let Ok(Packet(_, Body { data })) = serde_json::from_str::<Packet>(packet) {
            self.st.deliveries.fetch_add(1, Relaxed);
            self.log.push((data.change_seq, now_micros()));
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let log = std::mem::take(&mut self.log);
        self.out.lock().unwrap_or_else(|e| e.into_inner()).push(log);
    }
}

pub async fn reaction_fanout(args: &Args, st: &Arc<Stats>) -> Result<Value, String> {
    let run = run_id(&args.prefix);
    let owner = format!("{run}-owner");
    let members: Vec<String> = (0..args.members).map(|i| format!("{run}-m{i}")).collect();
    let room_id = create_room(args, 0, &owner, &members).await?;
    let http = reqwest::Client::new();
    let url = format!("{}/chat/rooms/{room_id}/messages", args.api(0));
    let msg = crate::rest(
        &http,
        reqwest::Method::POST,
        url,
        &args.token(&owner, "teacher"),
        Some(json!({ "content": "react to me" })),
    )
    .await?;
    let message_id = msg["data"]["id"]
        .as_str()
        .ok_or("no message id")?
        .to_string();

    let logs: Logs = Arc::new(Mutex::new(Vec::new()));
    let gate = Arc::new(Semaphore::new(args.concurrency));
    let connect_start = Instant::now();
    let mut joins = Vec::new();
    for (k, user) in members.iter().enumerate() {
        let (node, ip) = args.place(k);
        let token = args.token(user, "student");
        let (gate, st, logs, room_id) = (gate.clone(), st.clone(), logs.clone(), room_id.clone());
        joins.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.ok()?;
            let w = Watcher {
                log: Vec::new(),
                st: st.clone(),
                out: logs,
            };
            let sock = Socket::connect(node, ip, &token, w).await.ok()?;
            let ack = sock
                .emit_ack("join-chat-rooms", json!({ "roomIds": [room_id] }))
                .await;
            (ack.as_ref().and_then(|a| a["ok"].as_bool()) == Some(true)).then_some(sock)
        }));
    }
    let mut sockets = Vec::new();
    for j in joins {
        match j.await {
            Ok(Some(s)) => sockets.push(s),
            _ => {
                st.connect_errors.fetch_add(1, Relaxed);
            }
        }
    }
    let connect_secs = connect_start.elapsed().as_secs_f64();
    let settle_secs = quiet(args).await;
    eprintln!(
        "{} members connected in {connect_secs:.1}s, quiet after {settle_secs:.1}s",
        sockets.len()
    );

    let reactors = args.reactors.min(sockets.len()).max(1);
    let rate = args.rate.first().copied().unwrap_or(100.0);
    let period = Duration::from_secs_f64(reactors as f64 / rate.max(0.001));
    let sent: Sent = Arc::new(Mutex::new(HashMap::new()));
    let done = Arc::new(AtomicBool::new(false));
    progress(st.clone(), done.clone());
    let cpu_before = args.servers();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (r, sock) in sockets.iter().take(reactors).cloned().enumerate() {
        let (st, sent, room_id, message_id) = (
            st.clone(),
            sent.clone(),
            room_id.clone(),
            message_id.clone(),
        );
        let duration = Duration::from_secs(args.duration);
        let offset = period.mul_f64(r as f64 / reactors as f64);
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let end = Instant::now() + duration;
            let mut add = true;
            while Instant::now() < end {
                tick.tick().await;
                let action = if add { "add" } else { "remove" };
                add = !add;
                let t = now_micros();
                st.sent.fetch_add(1, Relaxed);
                let ack = sock
                    .emit_ack(
                        "react-chat-message",
                        json!({ "roomId": room_id,
                    "messageId": message_id, "emoji": "👍", "action": action }),
                    )
                    .await;
                match ack
                    .filter(|a| a["ok"] == true)
                    .and_then(|a| a["data"]["changeSeq"].as_u64())
                {
                    Some(seq) if seq > 0 => {
                        st.acked.fetch_add(1, Relaxed);
                        sent.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(seq, t);
                    }
                    _ => {
                        st.send_errors.fetch_add(1, Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let send_secs = start.elapsed().as_secs_f64();
    super::settle(st).await;
    let cpu_after = args.servers();
    done.store(true, Relaxed);
    for s in &sockets {
        s.close();
    }
    for _ in 0..100 {
        if logs.lock().unwrap_or_else(|e| e.into_inner()).len() >= sockets.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logs = std::mem::take(&mut *logs.lock().unwrap_or_else(|e| e.into_inner()));
    let sent = std::mem::take(&mut *sent.lock().unwrap_or_else(|e| e.into_inner()));
    let mut h = stats::histogram();
    let (mut lost, mut duplicated, mut received) = (0u64, 0u64, 0u64);
    for log in &logs {
        let mut got = std::collections::HashSet::new();
        for (seq, at) in log {
            let Some(t) = sent.get(seq) else { continue };
            if !got.insert(*seq) {
                duplicated += 1;
                continue;
            }
            received += 1;
            let _ = h.record(at.saturating_sub(*t).max(1));
        }
        lost += sent.keys().filter(|s| !got.contains(s)).count() as u64;
    }
    let cpu: f64 =
        cpu_after.iter().map(|a| a.2).sum::<f64>() - cpu_before.iter().map(|b| b.2).sum::<f64>();
    Ok(json!({
        "members": args.members, "receivers": logs.len(), "reactors": reactors, "rate": rate,
        "connectSeconds": connect_secs, "connectErrors": st.connect_errors.load(Relaxed),
        "sent": st.sent.load(Relaxed), "acked": sent.len(), "sendErrors": st.send_errors.load(Relaxed),
        "deliveries": received, "deliveriesPerSecond": received as f64 / send_secs,
        "lost": lost, "duplicated": duplicated,
        "latencyMs": stats::quantiles_ms(&h),
        "serverCpuSeconds": cpu,
        "servers": cpu_after.iter().map(|(p, rss, c)| json!({ "pid": p, "rssKiB": rss, "cpuSeconds": c })).collect::<Vec<_>>(),
    }))
}
