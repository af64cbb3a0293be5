//! class-start: a whole school connecting at 9:00. R rooms x M members connect and join
//! (`--concurrency` at a time) while one sender per room already sends at `--rate`
//! messages/s in all. Reports the latency of the messages sent during the storm, the
//! status events each socket received, when the last one arrived after the last join,
//! whether each socket's last `room-online-count` is right, and how long after the last
//! join the nodes went quiet.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::member::{Member, Seen};
use super::{create_room, run_id};
use crate::sio::{Ignore, OnEvent, Socket};
use crate::stats::{now_micros, Stats};
use crate::Args;

/// Status events seen by all sockets.
#[derive(Default)]
struct Presence {
    /// Packets: `chat-user-status-update`, `chat-users-status-update`, `room-online-count`.
    events: AtomicU64,
    /// Users' states in them (a batch holds several; a count none).
    users: AtomicU64,
    counts: AtomicU64,
    /// When the last status event arrived (Unix µs).
    last_micros: AtomicU64,
    /// Each socket's room and the last `online` it was told, at its close.
    last_counts: Mutex<Vec<(usize, Option<u64>)>>,
}

/// A member: message accounting, plus the status events it receives.
struct ClassMember {
    inner: Member,
    room: usize,
    last_count: Option<u64>,
    p: Arc<Presence>,
}

impl OnEvent for ClassMember {
    fn on_open(&mut self) {
        self.inner.on_open();
    }

    fn on_event(&mut self, packet: &str) {
        let kind = [
            "\"chat-user-status-update\"",
            "\"chat-users-status-update\"",
            "\"room-online-count\"",
        ]
        .iter()
        .position(|n| packet[1..].starts_with(n));
        let Some(kind) = kind else {
            return self.inner.on_event(packet);
        };
        self.p.events.fetch_add(1, Relaxed);
        self.p.last_micros.fetch_max(now_micros(), Relaxed);
        let v: Value = serde_json::from_str(packet).unwrap_or_default();
        let data = &v[1]["data"];
        match kind {
            0 => {
                self.p.users.fetch_add(1, Relaxed);
            }
            1 => {
                let n = data["users"].as_array().map_or(0, |a| a.len());
                self.p.users.fetch_add(n as u64, Relaxed);
            }
            _ => {
                self.p.counts.fetch_add(1, Relaxed);
                self.last_count = data["online"].as_u64();
            }
        }
    }
}

impl Drop for ClassMember {
    fn drop(&mut self) {
        let mut v = self.p.last_counts.lock().unwrap_or_else(|e| e.into_inner());
        v.push((self.room, self.last_count));
    }
}

pub async fn class_start(args: &Args, st: &Arc<Stats>) -> Result<Value, String> {
    let run = run_id(&args.prefix);
    let mut rooms = Vec::new();
    let mut senders = Vec::new();
    for r in 0..args.rooms {
        let owner = format!("{run}-s{r}");
        let members: Vec<String> = (0..args.members)
            .map(|i| format!("{run}-r{r}-m{i}"))
            .collect();
        rooms.push(create_room(args, r, &owner, &members).await?);
        let (node, ip) = args.place(r);
        senders.push(Socket::connect(node, ip, &args.token(&owner, "teacher"), Ignore).await?);
    }
    eprintln!(
        "{} rooms x {} members created; senders sending",
        args.rooms, args.members
    );
    let stop = Arc::new(AtomicBool::new(false));
    let sending = send(args, st, &rooms, senders, stop.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;

    let cpu_before: f64 = args.servers().iter().map(|s| s.2).sum();
    let own = || crate::stats::process(std::process::id()).map_or(0.0, |p| p.1);
    let own_before = own();
    let p = Arc::new(Presence::default());
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let start = Instant::now();
    let sockets = connect_all(args, st, &rooms, &run, &p, &seen).await;
    let storm_secs = start.elapsed().as_secs_f64();
    let load_cpu = own() - own_before;
    let last_join = now_micros();
    stop.store(true, Relaxed);
    // The senders stay connected (and counted online) until the end.
    let (sent, acked, _senders, ack_ms) = sending.await.unwrap_or_default();
    eprintln!(
        "{} sockets connected and joined in {storm_secs:.1}s",
        sockets.len()
    );
    // Under 4% of a core for half a second; the time is that of its start.
    let half = Duration::from_millis(500);
    let quiet_secs = (super::quiet_for(args, half, 0.02).await - 0.5).max(0.0);
    let cpu: f64 = args.servers().iter().map(|s| s.2).sum::<f64>() - cpu_before;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let latency = st.latency_ms();
    let expected = args.members as u64 + 1;
    for s in &sockets {
        s.close();
    }
    for _ in 0..100 {
        let n = p.last_counts.lock().map_or(0, |v| v.len());
        if n >= sockets.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = std::mem::take(&mut *p.last_counts.lock().unwrap_or_else(|e| e.into_inner()));
    let counted = last.iter().filter(|(_, c)| c.is_some()).count();
    let wrong = last
        .iter()
        .filter(|(_, c)| c.is_some_and(|c| c != expected))
        .count();
    let n = sockets.len().max(1) as f64;
    let settled = (p.last_micros.load(Relaxed) as f64 - last_join as f64).max(0.0) / 1e6;
    Ok(json!({
        "rooms": args.rooms, "members": args.members, "rate": args.rate.first(), "batched": args.batched,
        "sockets": sockets.len(), "connectErrors": st.connect_errors.load(Relaxed),
        "stormSeconds": storm_secs, "quietSeconds": quiet_secs, "presenceSettledSeconds": settled,
        "sent": sent, "acked": acked, "deliveries": st.deliveries.load(Relaxed),
        "duplicated": st.duplicated.load(Relaxed), "outOfOrder": st.out_of_order.load(Relaxed),
        "latencyMs": latency, "ackMs": ack_ms,
        "statusEvents": p.events.load(Relaxed), "statusEventsPerSocket": p.events.load(Relaxed) as f64 / n,
        "statusUsersPerSocket": p.users.load(Relaxed) as f64 / n,
        "countEvents": p.counts.load(Relaxed), "socketsWithCount": counted, "countsWrong": wrong,
        "expectedCount": expected, "serverCpuSeconds": cpu, "loadCpuSecondsDuringStorm": load_cpu,
        "servers": args.servers().iter().map(|(p, rss, c)| json!({ "pid": p, "rssKiB": rss, "cpuSeconds": c })).collect::<Vec<_>>(),
    }))
}

/// Each sender sends to its room until `stop`; (sent, acked) in all, the senders, and the
/// latency of the acks.
fn send(
    args: &Args,
    st: &Arc<Stats>,
    rooms: &[String],
    senders: Vec<Socket>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(u64, u64, Vec<Socket>, Value)> {
    let period = Duration::from_secs_f64(rooms.len() as f64 / args.rate[0].max(0.001));
    let rooms = rooms.to_vec();
    let st = st.clone();
    tokio::spawn(async move {
        let acked = Arc::new(AtomicU64::new(0));
        let ack_ms = Arc::new(Mutex::new(crate::stats::histogram()));
        let mut sent = 0u64;
        let mut tick = tokio::time::interval(period);
        let mut inflight = Vec::new();
        while !stop.load(Relaxed) {
            tick.tick().await;
            for (r, s) in senders.iter().enumerate() {
                sent += 1;
                st.sent.fetch_add(1, Relaxed);
                let body = json!({ "roomId": rooms[r], "content": format!("t={}", now_micros()) });
                let at = Instant::now();
                let ack = s.emit_now("send-chat-message", body);
                let (acked, ack_ms) = (acked.clone(), ack_ms.clone());
                inflight.push(tokio::spawn(async move {
                    if ack.await.ok().is_some_and(|a| a["ok"] == true) {
                        acked.fetch_add(1, Relaxed);
                        let us = at.elapsed().as_micros() as u64;
                        let _ = ack_ms.lock().map(|mut h| h.record(us.max(1)));
                    }
                }));
            }
        }
        for f in inflight {
            let _ = f.await;
        }
        let acks = ack_ms
            .lock()
            .map(|h| crate::stats::quantiles_ms(&h))
            .unwrap_or_default();
        (sent, acked.load(Relaxed), senders, acks)
    })
}

/// Connects and joins every member, `--concurrency` at a time; their sockets.
async fn connect_all(
    args: &Args,
    st: &Arc<Stats>,
    rooms: &[String],
    run: &str,
    p: &Arc<Presence>,
    seen: &Arc<Mutex<Vec<Seen>>>,
) -> Vec<Socket> {
    let gate = Arc::new(Semaphore::new(args.concurrency));
    let mut joins = Vec::new();
    for (r, room_id) in rooms.iter().enumerate() {
        for i in 0..args.members {
            let k = r * args.members + i;
            let (node, ip) = args.place(k);
            let mut auth = json!({ "token": args.token(&format!("{run}-r{r}-m{i}"), "student") });
            if args.batched {
                auth["statusUpdates"] = json!("batched");
            }
            let room_id = room_id.clone();
            let (gate, st, seen, p) = (gate.clone(), st.clone(), seen.clone(), p.clone());
            joins.push(tokio::spawn(async move {
                let _permit = gate.acquire().await.ok()?;
                let member = ClassMember {
                    inner: Member::new(k, r, st.clone(), seen),
                    room: r,
                    last_count: None,
                    p,
                };
                super::connect_and_join(node, ip, auth, member, &room_id, &st).await
            }));
        }
    }
    super::connected(joins).await
}
