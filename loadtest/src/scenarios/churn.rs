//! presence-churn and typing-storm.
//!
//! presence-churn: users in one room with a watcher connect and leave over and over,
//! setting status `busy` every other visit; the watcher must end up seeing each user's
//! last state (offline), and each visit costs one online and one offline update (and one
//! busy update when the status was set).
//! typing-storm: members of rooms send `chat-typing` at a total rate; everyone else in
//! the room receives `chat-user-typing` (and the server's auto-stop).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::{create_room, progress, run_id};
use crate::sio::{Ignore, Socket};
use crate::stats::Stats;
use crate::Args;

pub async fn presence_churn(args: &Args, st: &Arc<Stats>) -> Result<Value, String> {
    let run = run_id(&args.prefix);
    let users: Vec<String> = (0..args.members).map(|i| format!("{run}-c{i}")).collect();
    let watcher = format!("{run}-watcher");
    let mut all = users.clone();
    all.push(watcher.clone());
    create_room(args, 0, &format!("{run}-owner0"), &all).await?;
    let (wtx, mut wrx) = mpsc::unbounded_channel();
    let (node, ip) = args.place(0);
    let w = Socket::connect(node, ip, &args.token(&watcher, "student"), wtx).await?;
    let updates = Arc::new(AtomicU64::new(0));
    let busy_seen = Arc::new(AtomicU64::new(0));
    let last_state = Arc::new(std::sync::Mutex::new(std::collections::HashMap::<
        String,
        String,
    >::new()));
    {
        let (updates, busy_seen) = (updates.clone(), busy_seen.clone());
        let last_state = last_state.clone();
        tokio::spawn(async move {
            while let Some(ev) = wrx.recv().await {
                if ev.name == "chat-user-status-update" {
                    updates.fetch_add(1, Relaxed);
                    let d = &ev.data["data"];
                    if let (Some(u), Some(s)) = (d["userId"].as_str(), d["status"].as_str()) {
                        if s == "busy" {
                            busy_seen.fetch_add(1, Relaxed);
                        }
                        last_state
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(u.into(), s.into());
                    }
                }
            }
        });
    }
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    progress(st.clone(), done.clone());
    let cycles = Arc::new(AtomicU64::new(0));
    let busy = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(args.duration);
    let mut tasks = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let (token, cycles, st) = (args.token(u, "student"), cycles.clone(), st.clone());
        let (node, ip) = args.place(i + 1);
        let busy = busy.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < end {
                match Socket::connect(node, ip, &token, Ignore).await {
                    Ok(s) => {
                        let pause = Duration::from_millis(100 + (i as u64 * 37) % 150);
                        tokio::time::sleep(pause).await;
                        // Every other visit the user also sets a status before leaving.
                        n += 1;
                        if n.is_multiple_of(2) {
                            let a = s
                                .emit_ack("update-chat-status", json!({ "status": "busy" }))
                                .await;
                            if a.as_ref().is_some_and(|a| a["ok"] == true) {
                                busy.fetch_add(1, Relaxed);
                            } else {
                                st.send_errors.fetch_add(1, Relaxed);
                            }
                        }
                        tokio::time::sleep(pause).await;
                        s.close();
                        cycles.fetch_add(1, Relaxed);
                    }
                    Err(_) => {
                        st.connect_errors.fetch_add(1, Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(100 + (i as u64 * 53) % 200)).await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    // Everyone has left: the watcher must come to see every user offline.
    let settle = Instant::now() + Duration::from_secs(10);
    let stale = loop {
        let map = last_state.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let stale = users
            .iter()
            .filter(|u| map.get(*u).is_some_and(|s| s != "offline"))
            .count();
        if stale == 0 || Instant::now() > settle {
            break stale;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    done.store(true, Relaxed);
    w.close();
    let c = cycles.load(Relaxed);
    Ok(json!({
        "users": users.len(), "cycles": c, "cyclesPerSecond": c as f64 / args.duration as f64,
        "statusSet": busy.load(Relaxed), "statusErrors": st.send_errors.load(Relaxed),
        "busySeen": busy_seen.load(Relaxed),
        "statusUpdatesSeen": updates.load(Relaxed), "usersLeftOnline": stale,
        "connectErrors": st.connect_errors.load(Relaxed),
    }))
}

pub async fn typing_storm(args: &Args, st: &Arc<Stats>) -> Result<Value, String> {
    let run = run_id(&args.prefix);
    let mut sockets: Vec<(Socket, String)> = Vec::new();
    let received = Arc::new(AtomicU64::new(0));
    for r in 0..args.rooms {
        let members: Vec<String> = (0..args.members)
            .map(|i| format!("{run}-r{r}-t{i}"))
            .collect();
        let id = create_room(args, r, &format!("{run}-owner{r}"), &members).await?;
        for (i, m) in members.iter().enumerate() {
            let (etx, mut erx) = mpsc::unbounded_channel();
            let (node, ip) = args.place(r * args.members + i);
            let s = Socket::connect(node, ip, &args.token(m, "student"), etx).await?;
            s.emit_ack("join-chat-rooms", json!({ "roomIds": [id] }))
                .await;
            let received = received.clone();
            tokio::spawn(async move {
                while let Some(ev) = erx.recv().await {
                    if ev.name == "chat-user-typing" {
                        received.fetch_add(1, Relaxed);
                    }
                }
            });
            sockets.push((s, id.clone()));
        }
    }
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    progress(st.clone(), done.clone());
    let period = Duration::from_secs_f64(1.0 / args.rate[0].max(0.001));
    let mut tick = tokio::time::interval(period);
    let end = Instant::now() + Duration::from_secs(args.duration);
    let mut k = 0usize;
    let mut refused = 0u64;
    while Instant::now() < end {
        tick.tick().await;
        let (s, room) = &sockets[k % sockets.len()];
        k += 1;
        st.sent.fetch_add(1, Relaxed);
        match s
            .emit_ack("chat-typing", json!({ "roomId": room, "isTyping": true }))
            .await
        {
            Some(a) if a["ok"] == true => {
                st.acked.fetch_add(1, Relaxed);
            }
            _ => refused += 1,
        }
    }
    tokio::time::sleep(Duration::from_secs(4)).await; // the server's auto-stops
    done.store(true, Relaxed);
    for (s, _) in &sockets {
        s.close();
    }
    Ok(json!({
        "rooms": args.rooms, "members": args.members, "typingSent": st.sent.load(Relaxed),
        "typingAccepted": st.acked.load(Relaxed), "typingRefused": refused,
        "typingEventsReceived": received.load(Relaxed),
    }))
}
