//! fanout: R rooms x M members, one sender per room, messages at a total rate over the
//! socket event or REST. Each member measures send→arrival latency (the send time rides
//! in the content) and checks every acknowledged `seq` arrives once and in order.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch, Semaphore};

use super::{create_room, progress, run_id};
use crate::sio::Socket;
use crate::stats::{now_micros, Stats};
use crate::{rest, Args, Via};

/// What one receiver saw: its room, and a bitmap of the seqs that arrived.
struct Seen {
    room: usize,
    bits: Vec<u64>,
}

fn mark(bits: &mut Vec<u64>, seq: usize) -> bool {
    let (w, b) = (seq / 64, seq % 64);
    if bits.len() <= w {
        bits.resize(w + 1, 0);
    }
    let had = bits[w] & (1 << b) != 0;
    bits[w] |= 1 << b;
    had
}

fn has(bits: &[u64], seq: usize) -> bool {
    bits.get(seq / 64)
        .is_some_and(|w| w & (1 << (seq % 64)) != 0)
}

pub async fn fanout(args: &Args, st: &Arc<Stats>) -> Result<Value, String> {
    let http = reqwest::Client::new();
    let run = run_id(&args.prefix);
    let mut rooms: Vec<(String, String)> = Vec::new(); // (room id, sender id)
    for r in 0..args.rooms {
        let sender = format!("{run}-s{r}");
        let members: Vec<String> = (0..args.members)
            .map(|i| format!("{run}-r{r}-m{i}"))
            .collect();
        rooms.push((create_room(args, r, &sender, &members).await?, sender));
    }
    eprintln!(
        "{} rooms x {} members created; connecting",
        args.rooms, args.members
    );

    let (finish_tx, finish_rx) = watch::channel(false);
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::new(Mutex::new(Vec::new()));
    let gate = Arc::new(Semaphore::new(args.concurrency));
    let mut joins = Vec::new();
    let connect_start = Instant::now();
    let mut sockets = Vec::new();
    for (r, (room_id, _)) in rooms.iter().enumerate() {
        for i in 0..args.members {
            let k = r * args.members + i;
            let (node, ip) = args.place(k);
            let token = args.token(&format!("{run}-r{r}-m{i}"), "student");
            let room_id = room_id.clone();
            let (gate, st, seen, mut finish) =
                (gate.clone(), st.clone(), seen.clone(), finish_rx.clone());
            joins.push(tokio::spawn(async move {
                let _permit = gate.acquire().await.ok()?;
                let (etx, mut erx) = mpsc::unbounded_channel();
                let sock = match Socket::connect(node, ip, &token, etx).await {
                    Ok(s) => s,
                    Err(e) => {
                        st.connect_errors.fetch_add(1, Relaxed);
                        eprintln!("connect: {e}");
                        return None;
                    }
                };
                let ack = sock.emit_ack("join-chat-rooms", json!({ "roomIds": [room_id] })).await;
                if ack.as_ref().and_then(|a| a["ok"].as_bool()) != Some(true) {
                    st.connect_errors.fetch_add(1, Relaxed);
                    return None;
                }
                let sock2 = sock.clone();
                tokio::spawn(async move {
                    let mut bits = Vec::new();
                    let mut last = 0usize;
                    loop {
                        tokio::select! {
                            ev = erx.recv() => {
                                let Some(ev) = ev else { break };
                                if ev.name != "new-chat-message" { continue; }
                                let d = &ev.data["data"];
                                let seq = d["seq"].as_u64().unwrap_or(0) as usize;
                                let sent = d["content"].as_str().and_then(|c| c.strip_prefix("t=")).and_then(|t| t.parse::<u64>().ok());
                                if mark(&mut bits, seq) {
                                    st.duplicated.fetch_add(1, Relaxed);
                                    continue;
                                }
                                if seq < last {
                                    st.out_of_order.fetch_add(1, Relaxed);
                                }
                                last = last.max(seq);
                                st.record(k, sent.map_or(0, |t| now_micros().saturating_sub(t)));
                            }
                            _ = finish.changed() => break,
                        }
                    }
                    seen.lock().unwrap_or_else(|e| e.into_inner()).push(Seen { room: r, bits });
                });
                Some(sock2)
            }));
        }
    }
    for j in joins {
        if let Ok(Some(s)) = j.await {
            sockets.push(s);
        }
    }
    let connect_secs = connect_start.elapsed().as_secs_f64();
    eprintln!(
        "{} receivers connected and joined in {connect_secs:.1}s; sending",
        sockets.len()
    );

    // Senders: one per room, each at rate/rooms, for the duration.
    let acked: Arc<Vec<Mutex<Vec<usize>>>> =
        Arc::new((0..args.rooms).map(|_| Mutex::new(Vec::new())).collect());
    let done = Arc::new(AtomicBool::new(false));
    progress(st.clone(), done.clone());
    let cpu_before: Vec<(u32, u64, f64)> = args.servers();
    let send_start = Instant::now();
    let mut senders = Vec::new();
    for (r, (room_id, sender)) in rooms.iter().enumerate() {
        let token = args.token(sender, "teacher");
        let period = Duration::from_secs_f64(args.rooms as f64 / args.rate.max(0.001));
        let (st, acked, http) = (st.clone(), acked.clone(), http.clone());
        let (room_id, api, via, duration) = (
            room_id.clone(),
            args.api(r).to_string(),
            args.via,
            args.duration,
        );
        let (node, ip) = args.place(r);
        senders.push(tokio::spawn(async move {
            let (etx, _erx) = mpsc::unbounded_channel();
            let sock = match via {
                Via::Socket => Some(Socket::connect(node, ip, &token, etx).await?),
                Via::Rest => None,
            };
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let end = Instant::now() + Duration::from_secs(duration);
            let mut inflight = Vec::new();
            let mut n = 0u64;
            while Instant::now() < end {
                tick.tick().await;
                n += 1;
                let body = json!({ "roomId": room_id, "content": format!("t={}", now_micros()), "clientMessageId": format!("{r}-{n}-{}", now_micros()) });
                st.sent.fetch_add(1, Relaxed);
                let (st, acked, sock, http, api, token, room_id) = (st.clone(), acked.clone(), sock.clone(), http.clone(), api.clone(), token.clone(), room_id.clone());
                inflight.push(tokio::spawn(async move {
                    let seq = match sock {
                        Some(s) => s.emit_ack("send-chat-message", body).await.filter(|a| a["ok"] == true).and_then(|a| a["data"]["seq"].as_u64()),
                        None => rest(&http, Method::POST, format!("{api}/chat/rooms/{room_id}/messages"), &token, Some(body)).await.ok().and_then(|v| v["data"]["seq"].as_u64()),
                    };
                    match seq {
                        Some(s) => {
                            st.acked.fetch_add(1, Relaxed);
                            acked[r].lock().unwrap_or_else(|e| e.into_inner()).push(s as usize);
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
            Ok::<(), String>(())
        }));
    }
    for s in senders {
        match s.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("sender: {e}")),
            Err(e) => return Err(format!("sender: {e}")),
        }
    }
    let send_secs = send_start.elapsed().as_secs_f64();
    // Wait for deliveries to settle (nothing new for a second, at most 15 s).
    let mut last = st.deliveries.load(Relaxed);
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = st.deliveries.load(Relaxed);
        if now == last {
            break;
        }
        last = now;
    }
    let cpu_after = args.servers();
    done.store(true, Relaxed);
    let _ = finish_tx.send(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for s in &sockets {
        s.close();
    }

    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
    let mut lost = 0u64;
    for s in &seen {
        let exp = acked[s.room].lock().unwrap_or_else(|e| e.into_inner());
        lost += exp.iter().filter(|q| !has(&s.bits, **q)).count() as u64;
    }
    let deliveries = st.deliveries.load(Relaxed);
    let cpu: f64 =
        cpu_after.iter().map(|a| a.2).sum::<f64>() - cpu_before.iter().map(|b| b.2).sum::<f64>();
    Ok(json!({
        "rooms": args.rooms, "members": args.members, "rate": args.rate, "via": format!("{:?}", args.via),
        "receivers": seen.len(), "connectSeconds": connect_secs,
        "sent": st.sent.load(Relaxed), "acked": st.acked.load(Relaxed), "sendErrors": st.send_errors.load(Relaxed),
        "connectErrors": st.connect_errors.load(Relaxed),
        "deliveries": deliveries, "deliveriesPerSecond": deliveries as f64 / send_secs,
        "lost": lost, "duplicated": st.duplicated.load(Relaxed), "outOfOrder": st.out_of_order.load(Relaxed),
        "latencyMs": st.latency_ms(),
        "serverCpuSeconds": cpu,
        "serverCpuMicrosPerDelivery": if deliveries > 0 { cpu * 1e6 / deliveries as f64 } else { 0.0 },
        "servers": cpu_after.iter().map(|(p, rss, c)| json!({ "pid": p, "rssKiB": rss, "cpuSeconds": c })).collect::<Vec<_>>(),
    }))
}
