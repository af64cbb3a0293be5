//! meeting-signal and meeting-storm (WebRTC signalling, issue 12).
//!
//! meeting-signal: `--rooms` meetings of `--members` peers each (the room's teacher, who
//! starts the meeting, and students), connected round-robin over the nodes given, every
//! peer joined; then `meeting-signal`s at a total `--rate` (a list: one step per rate,
//! over the same peers) from every peer to random other peers of its meeting. Each signal
//! carries its sender, a sequence number per (sender, receiver) pair and its send time;
//! each receiver checks the relayed `from`, counts duplicated and out-of-order signals per
//! pair and times each relay. Lost: signals acknowledged `ok` that never arrived.
//!
//! meeting-storm: one meeting of `--members` peers (its teacher and students) spread over
//! the nodes, every peer sending `meeting-join` within `--join-window` seconds (evenly
//! spaced). Each peer keeps its participant list as a client would: the `participants` of
//! its join ack, plus `meeting-participant-joined`, minus `meeting-participant-left`. The
//! report: the time from the first join until every peer's list is the full set of peers,
//! and each join's ack latency.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::member::{has, mark};
use super::{create_room, progress, quiet, run_id, start_meeting};
use crate::sio::{OnEvent, Socket};
use crate::stats::{self, now_micros, Stats};
use crate::Args;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An ICE candidate of a usual size; the load generator's own fields ride in `load`
/// (the server relays `signal` untouched).
const CANDIDATE: &str = "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx \
                         raddr 10.0.0.5 rport 46154 generation 0 ufrag EsAw network-cost 999";

/// Error counts by the ack's error code.
type Errors = Arc<Mutex<BTreeMap<String, u64>>>;

fn count_error(errors: &Errors, ack: Option<&Value>) {
    let code = match ack {
        Some(a) => a["error"]["code"].as_str().unwrap_or("unknown").to_string(),
        None => "closed".to_string(),
    };
    *lock(errors).entry(code).or_default() += 1;
}

// ---------------------------------------------------------------- meeting-signal

/// What a receiver saw from one sender: a bitmap of the sequence numbers, the highest.
#[derive(Default, Clone)]
struct Pair {
    bits: Vec<u64>,
    last: usize,
}

/// Shared by every receiver.
struct Shared {
    st: Arc<Stats>,
    /// Peer id of each peer, by global index (set once everyone has joined).
    peers: OnceLock<Vec<String>>,
    /// Signals whose relayed `from` is not their sender's peer id, or that came from
    /// another meeting.
    misattributed: AtomicU64,
    unparsed: AtomicU64,
    /// (receiver, what it saw per sender of its meeting), handed over at close.
    out: Mutex<Vec<(usize, Vec<Pair>)>>,
}

/// `["meeting-signal",{"data":{"roomId":…,"from":…,"fromUserId":…,"signal":{…,"load":…}},…}]`,
/// reading only what the accounting needs.
#[derive(Deserialize)]
struct SigPacket<'a>(serde::de::IgnoredAny, #[serde(borrow)] SigBody<'a>);

#[derive(Deserialize)]
struct SigBody<'a> {
    #[serde(borrow)]
    data: SigData<'a>,
}

#[derive(Deserialize)]
struct SigData<'a> {
    #[serde(borrow)]
    from: Cow<'a, str>,
    #[serde(borrow)]
    signal: SigLoad<'a>,
}

#[derive(Deserialize)]
struct SigLoad<'a> {
    #[serde(borrow)]
    load: Cow<'a, str>,
}

/// One peer's receiving side, run on its socket's task.
struct Receiver {
    k: usize,
    members: usize,
    open: bool,
    from: Vec<Pair>,
    sh: Arc<Shared>,
}

impl OnEvent for Receiver {
    fn on_open(&mut self) {
        self.open = true;
    }

    fn on_event(&mut self, packet: &str) {
        if !packet.starts_with("[\"meeting-signal\",") {
            return;
        }
        let now = now_micros();
        let Ok(SigPacket(_, SigBody { data })) = serde_json::from_str::<SigPacket>(packet) else {
            self.sh.unparsed.fetch_add(1, Relaxed);
            return;
        };
        // "<sender index> <seq> <send time, unix µs>"
        let mut f = data.signal.load.split(' ').map(|x| x.parse::<u64>().ok());
        let (Some(Some(k)), Some(Some(seq)), Some(Some(t))) = (f.next(), f.next(), f.next()) else {
            self.sh.unparsed.fetch_add(1, Relaxed);
            return;
        };
        let (k, seq) = (k as usize, seq as usize);
        let right_from = self
            .sh
            .peers
            .get()
            .and_then(|p| p.get(k))
            .is_some_and(|p| *p == data.from);
        if !right_from || k / self.members != self.k / self.members {
            self.sh.misattributed.fetch_add(1, Relaxed);
            return;
        }
        let pair = &mut self.from[k % self.members];
        if mark(&mut pair.bits, seq) {
            self.sh.st.duplicated.fetch_add(1, Relaxed);
            return;
        }
        if seq < pair.last {
            self.sh.st.out_of_order.fetch_add(1, Relaxed);
        }
        pair.last = pair.last.max(seq);
        self.sh.st.record(self.k, now.saturating_sub(t));
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if self.open {
            let from = std::mem::take(&mut self.from);
            lock(&self.sh.out).push((self.k, from));
        }
    }
}

/// One peer's sending side.
struct SenderPeer {
    room_id: String,
    peer_id: String,
    sock: Socket,
    /// Last sequence number sent to each peer of the meeting (by index in it).
    next: Mutex<Vec<usize>>,
    /// Sequence numbers acknowledged `ok`, per receiver (by index in the meeting).
    acked: Mutex<Vec<Vec<u64>>>,
}

pub async fn meeting_signal(args: &Args, st: &Arc<Stats>) -> Result<Value, String> {
    if args.members < 2 {
        return Err("meeting-signal needs --members 2 or more".into());
    }
    let run = run_id(&args.prefix);
    let m = args.members;
    let total = args.rooms * m;
    // Rooms (teacher + members - 1 students) and their meetings.
    let mut rooms = Vec::new();
    for r in 0..args.rooms {
        let owner = format!("{run}-r{r}-p0");
        let students: Vec<String> = (1..m).map(|i| format!("{run}-r{r}-p{i}")).collect();
        let room_id = create_room(args, r, &owner, &students).await?;
        start_meeting(args, r, &owner, &room_id).await?;
        rooms.push(room_id);
    }
    eprintln!(
        "{} meetings started; {total} peers connecting and joining",
        args.rooms
    );
    let sh = Arc::new(Shared {
        st: st.clone(),
        peers: OnceLock::new(),
        misattributed: AtomicU64::new(0),
        unparsed: AtomicU64::new(0),
        out: Mutex::new(Vec::new()),
    });
    let join_start = Instant::now();
    let gate = Arc::new(Semaphore::new(args.concurrency));
    let mut joins = Vec::new();
    for k in 0..total {
        let (r, i) = (k / m, k % m);
        let role = if i == 0 { "teacher" } else { "student" };
        let token = args.token(&format!("{run}-r{r}-p{i}"), role);
        let (node, ip) = args.place(k);
        let room_id = rooms[r].clone();
        let (gate, sh) = (gate.clone(), sh.clone());
        joins.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
            let rx = Receiver {
                k,
                members: m,
                open: false,
                from: vec![Pair::default(); m],
                sh,
            };
            let sock = Socket::connect(node, ip, &token, rx).await?;
            let ack = sock
                .emit_ack("meeting-join", json!({ "roomId": room_id }))
                .await;
            match ack.as_ref().and_then(|a| a["data"]["peerId"].as_str()) {
                Some(p) if ack.as_ref().is_some_and(|a| a["ok"] == true) => {
                    Ok((sock, room_id, p.to_string()))
                }
                _ => Err(format!("meeting-join of peer {k}: {ack:?}")),
            }
        }));
    }
    let mut senders = Vec::new();
    let mut peer_ids = Vec::new();
    for j in joins {
        match j.await.map_err(|e| e.to_string()).and_then(|x| x) {
            Ok((sock, room_id, peer)) => {
                peer_ids.push(peer.clone());
                senders.push(SenderPeer {
                    room_id,
                    peer_id: peer,
                    sock,
                    next: Mutex::new(vec![0; m]),
                    acked: Mutex::new(vec![Vec::new(); m]),
                });
            }
            Err(e) => {
                // A meeting with a peer missing would skew everything after: stop here.
                st.connect_errors.fetch_add(1, Relaxed);
                return Err(e);
            }
        }
    }
    let join_secs = join_start.elapsed().as_secs_f64();
    let _ = sh.peers.set(peer_ids);
    let settle_secs = quiet(args).await;
    eprintln!(
        "{total} peers joined in {join_secs:.1}s; nodes quiet after {settle_secs:.1}s; signalling"
    );

    let errors: Errors = Arc::new(Mutex::new(BTreeMap::new()));
    let done = Arc::new(AtomicBool::new(false));
    progress(st.clone(), done.clone());
    let senders = Arc::new(senders);
    let mut steps = Vec::new();
    let mut totals = [0u64; 6]; // sent, acked, send errors, deliveries, duplicated, out of order
    for (n, &rate) in args.rate.iter().enumerate() {
        let step = signal_step(args, st, &senders, &errors, rate, n as u64).await;
        let counts = st.take_counts();
        for (t, c) in totals.iter_mut().zip(counts) {
            *t += c;
        }
        steps.push(step);
    }
    done.store(true, Relaxed);
    for s in senders.iter() {
        s.sock.close();
    }
    // Each receiver hands over what it saw as its socket closes.
    for _ in 0..100 {
        if lock(&sh.out).len() >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen: HashMap<usize, Vec<Pair>> = std::mem::take(&mut *lock(&sh.out)).into_iter().collect();
    // Lost: acknowledged, never received. Unacknowledged but received: relayed although
    // the ack said otherwise (or never came).
    let (mut lost, mut unacked_received, mut pairs) = (0u64, 0u64, 0u64);
    for (k, s) in senders.iter().enumerate() {
        let acked = lock(&s.acked);
        let sent_to = lock(&s.next);
        let r = k / m;
        for (j, bits) in acked.iter().enumerate() {
            if sent_to[j] == 0 {
                continue;
            }
            pairs += 1;
            let got = seen
                .get(&(r * m + j))
                .map(|p| p[k % m].bits.as_slice())
                .unwrap_or(&[]);
            for q in 1..=sent_to[j] {
                match (has(bits, q), has(got, q)) {
                    (true, false) => lost += 1,
                    (false, true) => unacked_received += 1,
                    _ => {}
                }
            }
        }
    }
    // The highest step held: it and every step below it at p99 < 50 ms, no error, and
    // the run lost, duplicated and reordered nothing.
    let clean = lost == 0 && totals[4] == 0 && totals[5] == 0;
    let mut held = Value::Null;
    for s in &steps {
        if !(clean && s["p99Under50ms"] == true && s["sendErrors"] == 0) {
            break;
        }
        held = json!({ "rate": s["rate"], "relayedPerSecond": s["relayedPerSecond"], "p99": s["latencyMs"]["p99"] });
    }
    let last = steps.last().cloned().unwrap_or(Value::Null);
    Ok(json!({
        "meetings": args.rooms, "members": m, "peers": total, "rates": args.rate,
        "receivers": seen.len(), "joinSeconds": join_secs, "settleSeconds": settle_secs,
        "connectErrors": st.connect_errors.load(Relaxed),
        "sent": totals[0], "acked": totals[1], "sendErrors": totals[2], "errors": *lock(&errors),
        "deliveries": totals[3], "pairs": pairs,
        "lost": lost, "duplicated": totals[4], "outOfOrder": totals[5],
        "receivedWithoutOkAck": unacked_received,
        "misattributed": sh.misattributed.load(Relaxed), "unparsed": sh.unparsed.load(Relaxed),
        "latencyMs": last["latencyMs"], "relayedPerSecond": last["relayedPerSecond"],
        "heldAtP99Under50ms": held,
        "servers": last["servers"],
        "steps": steps,
    }))
}

/// A small xorshift generator: which peer each signal goes to.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// Signals at `rate`/s (all peers together) for `--duration` seconds, waits for the
/// relays to settle, and reports the step.
async fn signal_step(
    args: &Args,
    st: &Arc<Stats>,
    senders: &Arc<Vec<SenderPeer>>,
    errors: &Errors,
    rate: f64,
    step: u64,
) -> Value {
    let cpu_before = args.servers();
    let own_before = stats::process(std::process::id()).map_or(0.0, |p| p.1);
    let machine_before = stats::machine_busy();
    let m = args.members;
    let total = senders.len();
    let period = Duration::from_secs_f64(total as f64 / rate.max(0.001));
    let duration = Duration::from_secs(args.duration);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..total {
        let (st, senders, errors) = (st.clone(), senders.clone(), errors.clone());
        // Peers are spread over the period: together they send evenly, not in bursts.
        let offset = period.mul_f64(k as f64 / total as f64);
        tasks.push(tokio::spawn(async move {
            let s = &senders[k];
            // Acks are awaited in the order sent, off the sending loop.
            let (atx, mut arx) =
                mpsc::unbounded_channel::<(usize, usize, oneshot::Receiver<Value>)>();
            let collector = {
                let (st, senders, errors) = (st.clone(), senders.clone(), errors.clone());
                tokio::spawn(async move {
                    while let Some((j, seq, ack)) = arx.recv().await {
                        let ack = ack.await.ok();
                        if ack.as_ref().is_some_and(|a| a["ok"] == true) {
                            st.acked.fetch_add(1, Relaxed);
                            mark(&mut lock(&senders[k].acked)[j], seq);
                        } else {
                            st.send_errors.fetch_add(1, Relaxed);
                            count_error(&errors, ack.as_ref());
                        }
                    }
                })
            };
            let mut next = std::mem::take(&mut *lock(&s.next));
            let mut rng = Rng((k as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (step + 1));
            let i = k % m;
            let base = k - i;
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let end = Instant::now() + duration;
            while Instant::now() < end {
                tick.tick().await;
                let mut j = (rng.next() % (m as u64 - 1)) as usize;
                if j >= i {
                    j += 1;
                }
                next[j] += 1;
                let seq = next[j];
                let to = &senders[base + j].peer_id;
                let body = json!({
                    "roomId": s.room_id, "to": to,
                    "signal": { "type": "ice-candidate", "candidate": CANDIDATE, "sdpMid": "0",
                                "sdpMLineIndex": 0, "load": format!("{k} {seq} {}", now_micros()) },
                });
                st.sent.fetch_add(1, Relaxed);
                let _ = atx.send((j, seq, s.sock.emit_now("meeting-signal", body)));
            }
            *lock(&s.next) = next;
            drop(atx);
            let _ = collector.await;
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let send_secs = start.elapsed().as_secs_f64();
    super::settle(st).await;
    let cpu_after = args.servers();
    let own_cpu = stats::process(std::process::id()).map_or(0.0, |p| p.1) - own_before;
    let machine = stats::machine_busy() - machine_before;
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
    let latency = st.latency_ms();
    let p99 = latency["p99"].as_f64().unwrap_or(f64::INFINITY);
    let step = json!({
        "rate": rate, "sent": st.sent.load(Relaxed), "acked": st.acked.load(Relaxed),
        "sendErrors": st.send_errors.load(Relaxed), "deliveries": deliveries,
        "relayedPerSecond": deliveries as f64 / send_secs,
        "duplicated": st.duplicated.load(Relaxed), "outOfOrder": st.out_of_order.load(Relaxed),
        "latencyMs": latency, "p99Under50ms": deliveries > 0 && p99 < 50.0,
        "serverCpuSeconds": cpu, "serverCpuMicrosPerSignal": per(cpu),
        "loadCpuSeconds": own_cpu, "loadCpuMicrosPerSignal": per(own_cpu),
        // What the whole machine ran meanwhile (Redis, PostgreSQL, anything else), from
        // /proc/stat: tick-sampled, so only a rough check against the two above.
        "machineCpuSeconds": machine,
        "stepSeconds": start.elapsed().as_secs_f64(),
        "servers": cpu_after.iter().map(|(p, rss, c)| json!({ "pid": p, "rssKiB": rss, "cpuSeconds": c })).collect::<Vec<_>>(),
    });
    eprintln!("step {rate} signals/s: {step}");
    step
}

// ---------------------------------------------------------------- meeting-storm

/// One peer's participant list, kept as a client keeps it.
struct Roster {
    expected: usize,
    peers: HashSet<String>,
    /// Peers told to have left (a join ack listing one of them afterwards is stale).
    gone: HashSet<String>,
    /// When the list last became complete (`expected` peers), if it is.
    complete_at: Option<Instant>,
    /// Times a complete list lost a peer again.
    regressions: u64,
    joined_events: u64,
    left_events: u64,
    /// A peer the list already had (the join ack and the joined event overlap).
    redundant: u64,
}

impl Roster {
    fn add(&mut self, peer: &str) {
        if self.gone.contains(peer) {
            return;
        }
        if !self.peers.insert(peer.to_string()) {
            self.redundant += 1;
        }
        self.check();
    }

    fn remove(&mut self, peer: &str) {
        self.peers.remove(peer);
        self.gone.insert(peer.to_string());
        self.check();
    }

    fn check(&mut self) {
        if self.peers.len() >= self.expected {
            self.complete_at.get_or_insert_with(Instant::now);
        } else if self.complete_at.take().is_some() {
            self.regressions += 1;
        }
    }
}

/// Keeps a peer's roster from the events of its socket.
struct Watcher(Arc<Mutex<Roster>>);

impl OnEvent for Watcher {
    fn on_event(&mut self, packet: &str) {
        let joined = packet.starts_with("[\"meeting-participant-joined\",");
        if !joined && !packet.starts_with("[\"meeting-participant-left\",") {
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(packet) else {
            return;
        };
        let d = &v[1]["data"];
        let mut r = lock(&self.0);
        if joined {
            r.joined_events += 1;
            if let Some(p) = d["participant"]["peerId"].as_str() {
                r.add(p);
            }
        } else {
            r.left_events += 1;
            if let Some(p) = d["peerId"].as_str() {
                r.remove(p);
            }
        }
    }
}

/// A peer's list at the end: right (the full set), its size, and its counts
/// (regressions, joined events, left events, redundant).
struct ListEnd {
    right: bool,
    size: usize,
    counts: [u64; 4],
}

/// What one peer's join gave.
struct Joined {
    sent: Instant,
    acked: Instant,
    peer: Option<String>,
}

pub async fn meeting_storm(args: &Args, st: &Arc<Stats>) -> Result<Value, String> {
    let run = run_id(&args.prefix);
    let n = args.members;
    let owner = format!("{run}-p0");
    let students: Vec<String> = (1..n).map(|i| format!("{run}-p{i}")).collect();
    let room_id = create_room(args, 0, &owner, &students).await?;
    start_meeting(args, 0, &owner, &room_id).await?;
    // Everyone connected first: the storm is the joins, not the connects.
    let mut peers = Vec::new();
    for k in 0..n {
        let user = if k == 0 {
            owner.clone()
        } else {
            students[k - 1].clone()
        };
        let role = if k == 0 { "teacher" } else { "student" };
        let roster = Arc::new(Mutex::new(Roster {
            expected: n,
            peers: HashSet::new(),
            gone: HashSet::new(),
            complete_at: None,
            regressions: 0,
            joined_events: 0,
            left_events: 0,
            redundant: 0,
        }));
        let (node, ip) = args.place(k);
        let sock = Socket::connect(node, ip, &args.token(&user, role), Watcher(roster.clone()))
            .await
            .inspect_err(|_| {
                st.connect_errors.fetch_add(1, Relaxed);
            })?;
        peers.push((sock, roster));
    }
    let settle_secs = quiet(args).await;
    let window = Duration::from_secs_f64(args.join_window.max(0.0));
    eprintln!(
        "{n} peers connected over {} node(s), nodes quiet after {settle_secs:.1}s; all join within {:.1}s",
        args.sockets.len(),
        window.as_secs_f64()
    );
    let errors: Errors = Arc::new(Mutex::new(BTreeMap::new()));
    let t0 = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::new();
    for (k, (sock, roster)) in peers.iter().enumerate() {
        let (sock, roster, errors, room_id) = (
            sock.clone(),
            roster.clone(),
            errors.clone(),
            room_id.clone(),
        );
        let at = t0 + window.mul_f64(k as f64 / n as f64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let sent = Instant::now();
            let ack = sock
                .emit_ack("meeting-join", json!({ "roomId": room_id }))
                .await;
            let acked = Instant::now();
            let ok = ack.as_ref().is_some_and(|a| a["ok"] == true);
            if !ok {
                count_error(&errors, ack.as_ref());
                return Joined {
                    sent,
                    acked,
                    peer: None,
                };
            }
            let ack = ack.unwrap_or_default();
            let mut r = lock(&roster);
            for p in ack["data"]["participants"].as_array().into_iter().flatten() {
                if let Some(id) = p["peerId"].as_str() {
                    r.add(id);
                }
            }
            Joined {
                sent,
                acked,
                peer: ack["data"]["peerId"].as_str().map(str::to_string),
            }
        }));
    }
    let mut joined = Vec::new();
    for t in tasks {
        joined.push(t.await.map_err(|e| e.to_string())?);
    }
    let first = joined.iter().map(|j| j.sent).min().ok_or("no peer")?;
    let last_sent = joined.iter().map(|j| j.sent).max().ok_or("no peer")?;
    let last_ack = joined.iter().map(|j| j.acked).max().ok_or("no peer")?;
    let mut ack_ms = stats::histogram();
    for j in &joined {
        let _ = ack_ms.record((j.acked - j.sent).as_micros().max(1) as u64);
    }
    let full: HashSet<String> = joined.iter().filter_map(|j| j.peer.clone()).collect();
    let join_errors = joined.iter().filter(|j| j.peer.is_none()).count();
    // Wait until every list is complete (or give up after 10 s past the last ack).
    let deadline = last_ack + Duration::from_secs(10);
    while Instant::now() < deadline {
        if peers.iter().all(|(_, r)| lock(r).complete_at.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let complete: Vec<Option<Instant>> = peers.iter().map(|(_, r)| lock(r).complete_at).collect();
    // Lists must stay right: look again a second later.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rosters: Vec<ListEnd> = peers
        .iter()
        .map(|(_, r)| {
            let r = lock(r);
            ListEnd {
                right: r.peers == full,
                size: r.peers.len(),
                counts: [r.regressions, r.joined_events, r.left_events, r.redundant],
            }
        })
        .collect();
    for (s, _) in &peers {
        s.close();
    }
    let right = rosters.iter().filter(|r| r.right).count();
    let converged =
        join_errors == 0 && full.len() == n && complete.iter().all(Option::is_some) && right == n;
    let since = |t: Instant| (t - first).as_secs_f64() * 1000.0;
    let mut per_peer = stats::histogram();
    for c in complete.iter().flatten() {
        let _ = per_peer.record(((*c - first).as_micros() as u64).max(1));
    }
    let all_right_ms = converged
        .then(|| complete.iter().flatten().max().map(|t| since(*t)))
        .flatten();
    let sum = |c: usize| rosters.iter().map(|r| r.counts[c]).sum::<u64>();
    Ok(json!({
        "peers": n, "joinWindowSeconds": window.as_secs_f64(), "settleSeconds": settle_secs,
        "connectErrors": st.connect_errors.load(Relaxed),
        "joinErrors": join_errors, "errors": *lock(&errors),
        "converged": converged,
        "allListsRightMs": all_right_ms,
        "lastJoinSentMs": since(last_sent), "lastJoinAckedMs": since(last_ack),
        "afterLastJoinSentMs": all_right_ms.map(|ms| ms - since(last_sent)),
        "afterLastAckMs": all_right_ms.map(|ms| ms - since(last_ack)),
        "listRightMs": stats::quantiles_ms(&per_peer),
        "joinAckMs": stats::quantiles_ms(&ack_ms),
        "listsRight": right, "listsIncomplete": complete.iter().filter(|c| c.is_none()).count(),
        "listSizes": rosters.iter().map(|r| r.size).collect::<Vec<_>>(),
        "regressions": sum(0), "joinedEvents": sum(1), "leftEvents": sum(2), "redundant": sum(3),
    }))
}
