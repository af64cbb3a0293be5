//! fanout: R rooms x M members, one sender per room, messages at a total rate over the
//! socket event or REST. Each member measures send→arrival latency (the send time rides
//! in the content) and checks every acknowledged `seq` arrives once and in order.
//! `--rate 10,20,40` runs one step per rate over the same sockets and reports each.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::member::{has, Member, Seen};
use super::{create_room, progress, quiet, run_id};
use crate::sio::{Ignore, Socket};
use crate::stats::{self, now_micros, Stats};
use crate::{rest, Args, Via};

/// One sender per room: its room, its token and (over the socket) its connection.
struct Sender {
    room_id: String,
    token: String,
    api: String,
    sock: Option<Socket>,
}

/// `seq`s acknowledged per room, across all steps.
type Acked = Arc<Vec<Mutex<Vec<usize>>>>;

pub async fn fanout(args: &Args, st: &Arc<Stats>) -> Result<Value, String> {
    let run = run_id(&args.prefix);
    let mut senders = Vec::new();
    for r in 0..args.rooms {
        let owner = format!("{run}-s{r}");
        let members: Vec<String> = (0..args.members)
            .map(|i| format!("{run}-r{r}-m{i}"))
            .collect();
        let room_id = create_room(args, r, &owner, &members).await?;
        let token = args.token(&owner, "teacher");
        let (node, ip) = args.place(r);
        let sock = match args.via {
            Via::Socket => Some(Socket::connect(node, ip, &token, Ignore).await?),
            Via::Rest => None,
        };
        let api = args.api(r).to_string();
        senders.push(Sender {
            room_id,
            token,
            api,
            sock,
        });
    }
    eprintln!(
        "{} rooms x {} members created; connecting",
        args.rooms, args.members
    );
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::new(Mutex::new(Vec::new()));
    let connect_start = Instant::now();
    let sockets = connect_members(args, st, &senders, &seen, &run).await;
    let connect_secs = connect_start.elapsed().as_secs_f64();
    eprintln!(
        "{} receivers connected and joined in {connect_secs:.1}s; sending",
        sockets.len()
    );

    let settle_secs = quiet(args).await;
    eprintln!(
        "nodes quiet after {settle_secs:.1}s (presence updates of the connect storm delivered)"
    );
    let acked: Acked = Arc::new((0..args.rooms).map(|_| Mutex::new(Vec::new())).collect());
    let done = Arc::new(AtomicBool::new(false));
    progress(st.clone(), done.clone());
    let senders = Arc::new(senders);
    let mut steps = Vec::new();
    let mut totals = [0u64; 6]; // sent, acked, send errors, deliveries, duplicated, out of order
    for &rate in &args.rate {
        let step = run_step(args, st, &senders, &acked, rate).await;
        let counts = st.take_counts();
        for (t, c) in totals.iter_mut().zip(counts) {
            *t += c;
        }
        steps.push(step);
    }
    done.store(true, Relaxed);
    for s in &sockets {
        s.close();
    }
    // Each member hands over what it saw as its socket closes.
    for _ in 0..100 {
        if seen.lock().unwrap_or_else(|e| e.into_inner()).len() >= sockets.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
    let mut lost = 0u64;
    for s in &seen {
        let exp = acked[s.room].lock().unwrap_or_else(|e| e.into_inner());
        lost += exp.iter().filter(|q| !has(&s.bits, **q)).count() as u64;
    }
    let last = steps.last().cloned().unwrap_or(Value::Null);
    Ok(json!({
        "rooms": args.rooms, "members": args.members, "rates": args.rate, "via": format!("{:?}", args.via),
        "receivers": seen.len(), "connectSeconds": connect_secs, "settleSeconds": settle_secs,
        "connectErrors": st.connect_errors.load(Relaxed),
        "sent": totals[0], "acked": totals[1], "sendErrors": totals[2], "deliveries": totals[3],
        "lost": lost, "duplicated": totals[4], "outOfOrder": totals[5],
        "latencyMs": last["latencyMs"], "deliveriesPerSecond": last["deliveriesPerSecond"],
        "serverCpuMicrosPerDelivery": last["serverCpuMicrosPerDelivery"],
        "servers": last["servers"],
        "steps": steps,
    }))
}

/// Connects and joins every member (at most `--concurrency` at a time); their sockets.
async fn connect_members(
    args: &Args,
    st: &Arc<Stats>,
    senders: &[Sender],
    seen: &Arc<Mutex<Vec<Seen>>>,
    run: &str,
) -> Vec<Socket> {
    let gate = Arc::new(Semaphore::new(args.concurrency));
    let mut joins = Vec::new();
    for (r, sender) in senders.iter().enumerate() {
        for i in 0..args.members {
            let k = r * args.members + i;
            let (node, ip) = args.place(k);
            let token = args.token(&format!("{run}-r{r}-m{i}"), "student");
            let room_id = sender.room_id.clone();
            let (gate, st, seen) = (gate.clone(), st.clone(), seen.clone());
            joins.push(tokio::spawn(async move {
                let _permit = gate.acquire().await.ok()?;
                let member = Member::new(k, r, st.clone(), seen);
                let auth = json!({ "token": token });
                super::connect_and_join(node, ip, auth, member, &room_id, &st).await
            }));
        }
    }
    super::connected(joins).await
}

/// Sends at `rate` messages/s (all rooms together) for `--duration` seconds, waits for
/// deliveries to settle, and reports the step.
async fn run_step(
    args: &Args,
    st: &Arc<Stats>,
    senders: &Arc<Vec<Sender>>,
    acked: &Acked,
    rate: f64,
) -> Value {
    let http = reqwest::Client::new();
    let cpu_before = args.servers();
    let own_before = stats::process(std::process::id()).map_or(0.0, |p| p.1);
    let start = Instant::now();
    let period = Duration::from_secs_f64(args.rooms as f64 / rate.max(0.001));
    let mut tasks = Vec::new();
    for r in 0..senders.len() {
        let (st, acked, http, senders) = (st.clone(), acked.clone(), http.clone(), senders.clone());
        let duration = Duration::from_secs(args.duration);
        // Senders are spread over the period: together they send evenly, not in bursts.
        let offset = period.mul_f64(r as f64 / senders.len() as f64);
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let end = Instant::now() + duration;
            let mut inflight = Vec::new();
            let mut n = 0u64;
            while Instant::now() < end {
                tick.tick().await;
                n += 1;
                let s = &senders[r];
                let body = json!({ "roomId": s.room_id, "content": format!("t={}", now_micros()),
                                   "clientMessageId": format!("{r}-{n}-{}", now_micros()) });
                st.sent.fetch_add(1, Relaxed);
                let (st, acked, http, senders) =
                    (st.clone(), acked.clone(), http.clone(), senders.clone());
                inflight.push(tokio::spawn(async move {
                    let s = &senders[r];
                    let seq = match &s.sock {
                        Some(sock) => sock
                            .emit_ack("send-chat-message", body)
                            .await
                            .filter(|a| a["ok"] == true)
                            .and_then(|a| a["data"]["seq"].as_u64()),
                        None => rest(
                            &http,
                            Method::POST,
                            format!("{}/chat/rooms/{}/messages", s.api, s.room_id),
                            &s.token,
                            Some(body),
                        )
                        .await
                        .ok()
                        .and_then(|v| v["data"]["seq"].as_u64()),
                    };
                    match seq {
                        Some(q) => {
                            st.acked.fetch_add(1, Relaxed);
                            acked[r]
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(q as usize);
                        }
                        None => {
                            st.send_errors.fetch_add(1, Relaxed);
                        }
                    }
                }));
            }
            for f in inflight {
                let _ = f.await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let send_secs = start.elapsed().as_secs_f64();
    super::settle(st).await;
    let cpu_after = args.servers();
    let own_cpu = stats::process(std::process::id()).map_or(0.0, |p| p.1) - own_before;
    let deliveries = st.deliveries.load(Relaxed);
    let cpu: f64 =
        cpu_after.iter().map(|a| a.2).sum::<f64>() - cpu_before.iter().map(|b| b.2).sum::<f64>();
    let per = |secs: f64| {
        if deliveries > 0 {
            secs * 1e6 / deliveries as f64
        } else {
            0.0
        }
    };
    let step = json!({
        "rate": rate, "sent": st.sent.load(Relaxed), "acked": st.acked.load(Relaxed),
        "sendErrors": st.send_errors.load(Relaxed), "deliveries": deliveries,
        "deliveriesPerSecond": deliveries as f64 / send_secs,
        "duplicated": st.duplicated.load(Relaxed), "outOfOrder": st.out_of_order.load(Relaxed),
        "latencyMs": st.latency_ms(),
        "serverCpuSeconds": cpu, "serverCpuMicrosPerDelivery": per(cpu),
        "loadCpuSeconds": own_cpu, "loadCpuMicrosPerDelivery": per(own_cpu),
        "servers": cpu_after.iter().map(|(p, rss, c)| json!({ "pid": p, "rssKiB": rss, "cpuSeconds": c })).collect::<Vec<_>>(),
    });
    eprintln!("step {rate} msg/s: {step}");
    step
}
