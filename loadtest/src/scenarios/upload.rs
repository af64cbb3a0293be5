//! upload: `--concurrency` users each uploading files of `--upload-kib` KiB (a PNG header
//! then filler) back to back for `--duration` seconds, spread over the nodes; throughput,
//! upload latency and the servers' memory.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::run_id;
use crate::stats::Stats;
use crate::Args;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";

pub async fn upload(args: &Args, st: &Arc<Stats>) -> Result<Value, String> {
    let run = run_id(&args.prefix);
    let size = args.upload_kib * 1024;
    let mut file = PNG.to_vec();
    file.resize(size.max(PNG.len()), 7);
    let file = bytes::Bytes::from(file);
    let bytes_total = Arc::new(AtomicU64::new(0));
    let http = reqwest::Client::new();
    let rss_before: u64 = args.servers().iter().map(|s| s.1).sum();
    let cpu_before = args.servers();
    let start = Instant::now();
    let end = start + Duration::from_secs(args.duration);
    let mut tasks = Vec::new();
    for u in 0..args.concurrency {
        let token = args.token(&format!("{run}-u{u}"), "student");
        let url = format!("{}/chat/uploads", args.api(u));
        let (http, file, st, bytes_total) =
            (http.clone(), file.clone(), st.clone(), bytes_total.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < end {
                n += 1;
                st.sent.fetch_add(1, Relaxed);
                let t = Instant::now();
                let resp = http
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "image/png")
                    .header("x-filename", format!("f{n}.png"))
                    .body(file.clone())
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().as_u16() == 201 => {
                        let _ = r.bytes().await;
                        st.acked.fetch_add(1, Relaxed);
                        bytes_total.fetch_add(file.len() as u64, Relaxed);
                        st.record(u, t.elapsed().as_micros() as u64);
                    }
                    Ok(r) => {
                        st.send_errors.fetch_add(1, Relaxed);
                        let status = r.status();
                        eprintln!("upload: {status} {}", r.text().await.unwrap_or_default());
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => {
                        st.send_errors.fetch_add(1, Relaxed);
                        eprintln!("upload: {e}");
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let secs = start.elapsed().as_secs_f64();
    let servers = args.servers();
    let cpu: f64 =
        servers.iter().map(|a| a.2).sum::<f64>() - cpu_before.iter().map(|b| b.2).sum::<f64>();
    let bytes = bytes_total.load(Relaxed);
    Ok(json!({
        "uploaders": args.concurrency, "fileKiB": args.upload_kib, "seconds": secs,
        "uploads": st.acked.load(Relaxed), "errors": st.send_errors.load(Relaxed),
        "uploadsPerSecond": st.acked.load(Relaxed) as f64 / secs,
        "mebibytesPerSecond": bytes as f64 / secs / 1048576.0,
        "latencyMs": st.latency_ms(),
        "serverCpuSeconds": cpu,
        "serverCpuSecondsPerGiB": if bytes > 0 { cpu / (bytes as f64 / 1073741824.0) } else { 0.0 },
        "serverRssKiBBefore": rss_before,
        "servers": servers.iter().map(|(p, rss, c)| json!({ "pid": p, "rssKiB": rss, "cpuSeconds": c })).collect::<Vec<_>>(),
    }))
}
