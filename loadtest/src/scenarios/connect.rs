//! connect: ramp N authenticated sockets (10 per user, spread over the nodes and source
//! addresses), hold them, and report the connect rate and server memory per socket.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::run_id;
use crate::sio::{Ignore, Socket};
use crate::stats::Stats;
use crate::Args;

pub async fn connect(args: &Args, st: &Arc<Stats>) -> Result<Value, String> {
    let run = run_id(&args.prefix);
    let before = args.servers();
    let own_before = crate::stats::process(std::process::id()).map_or(0.0, |p| p.1);
    let gate = Arc::new(Semaphore::new(args.concurrency));
    let start = Instant::now();
    let mut joins = Vec::with_capacity(args.sockets_total);
    for k in 0..args.sockets_total {
        let (node, ip) = args.place(k);
        let token = args.token(&format!("{run}-u{}", k / 10), "student");
        let (gate, st) = (gate.clone(), st.clone());
        joins.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.ok()?;
            match Socket::connect(node, ip, &token, Ignore).await {
                Ok(s) => Some(s),
                Err(e) => {
                    if st.connect_errors.fetch_add(1, Relaxed) < 5 {
                        eprintln!("connect: {e}");
                    }
                    None
                }
            }
        }));
    }
    let mut sockets = Vec::new();
    for (i, j) in joins.into_iter().enumerate() {
        if let Ok(Some(s)) = j.await {
            sockets.push(s);
        }
        if (i + 1) % 1000 == 0 {
            eprintln!(
                "[{:>5.1}s] {} sockets",
                start.elapsed().as_secs_f64(),
                i + 1
            );
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let own_cpu = crate::stats::process(std::process::id()).map_or(0.0, |p| p.1) - own_before;
    let server_cpu: f64 =
        args.servers().iter().map(|s| s.2).sum::<f64>() - before.iter().map(|s| s.2).sum::<f64>();
    eprintln!(
        "{} sockets connected in {secs:.2}s; holding {}s",
        sockets.len(),
        args.duration
    );
    tokio::time::sleep(Duration::from_secs(args.duration)).await;
    let during = args.servers();
    let n = sockets.len().max(1) as f64;
    let per_socket: Vec<Value> = during
        .iter()
        .map(|(pid, rss, _)| {
            let base = before.iter().find(|b| b.0 == *pid).map_or(0, |b| b.1);
            json!({ "pid": pid, "rssKiB": rss, "rssBeforeKiB": base,
                    "kibPerSocket": (*rss as f64 - base as f64) / (n / args.server_pids.len().max(1) as f64) })
        })
        .collect();
    for s in &sockets {
        s.close();
    }
    Ok(json!({
        "sockets": sockets.len(), "connectErrors": st.connect_errors.load(Relaxed),
        "connectSeconds": secs, "connectsPerSecond": sockets.len() as f64 / secs,
        "serverCpuSecondsConnecting": server_cpu, "loadCpuSecondsConnecting": own_cpu,
        "servers": per_socket,
    }))
}
