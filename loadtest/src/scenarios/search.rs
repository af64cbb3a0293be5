//! search: `GET /chat/search` at a fixed total rate (open loop: a query is sent on
//! schedule whether or not earlier ones have answered) by the users `<prefix>-u0 ..
//! <prefix>-u<members-1>` in turn, for words of the benchmark's vocabulary
//! (`loadtest/search/seed.sql`): one word in four queries of five, two in the fifth, each
//! word's index uniform in 0..4000. Latency from the scheduled send to the whole answer.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::progress;
use crate::stats::{now_micros, Stats};
use crate::Args;

/// Word `i` of the seeded vocabulary: `w` and three letters (`waaa`, `waab`, …).
pub fn word(i: u32) -> String {
    let l = |n: u32| char::from(b'a' + (n % 26) as u8);
    format!("w{}{}{}", l(i / 676), l(i / 26), l(i))
}

/// A small xorshift generator: no dependency, good enough to pick words.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u32) -> u32 {
        (self.next() % n as u64) as u32
    }
}

pub async fn search(args: &Args, st: &Arc<Stats>) -> Result<Value, String> {
    let rate = args.rate.first().copied().unwrap_or(50.0).max(0.1);
    let users = args.members.max(1);
    let tokens: Arc<Vec<String>> = Arc::new(
        (0..users)
            .map(|u| args.token(&format!("{}-u{u}", args.prefix), "student"))
            .collect(),
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .map_err(|e| e.to_string())?;
    let hits = Arc::new(AtomicU64::new(0));
    let empty = Arc::new(AtomicU64::new(0));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    progress(st.clone(), done.clone());
    let before = args.servers();
    let mut rng = Rng(now_micros() | 1);
    let start = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    let mut n = 0usize;
    while start.elapsed() < Duration::from_secs(args.duration) {
        ticker.tick().await;
        let q = if rng.below(5) == 0 {
            format!("{} {}", word(rng.below(4000)), word(rng.below(4000)))
        } else {
            word(rng.below(4000))
        };
        let url = format!(
            "{}/chat/search?q={}&limit=20",
            args.api(n),
            q.replace(' ', "+")
        );
        let (http, tokens, st) = (http.clone(), tokens.clone(), st.clone());
        let (hits, empty) = (hits.clone(), empty.clone());
        let sent = now_micros();
        st.sent.fetch_add(1, Relaxed);
        tasks.push(tokio::spawn(async move {
            let token = &tokens[n % tokens.len()];
            match crate::rest(&http, reqwest::Method::GET, url, token, None).await {
                Ok(v) => {
                    let k = v["data"].as_array().map_or(0, Vec::len) as u64;
                    hits.fetch_add(k, Relaxed);
                    if k == 0 {
                        empty.fetch_add(1, Relaxed);
                    }
                    st.acked.fetch_add(1, Relaxed);
                    st.record(n, now_micros().saturating_sub(sent));
                }
                Err(e) => {
                    if st.send_errors.fetch_add(1, Relaxed) < 5 {
                        eprintln!("search: {e}");
                    }
                }
            }
        }));
        n += 1;
    }
    let sending = start.elapsed().as_secs_f64();
    for t in tasks {
        let _ = t.await;
    }
    done.store(true, Relaxed);
    let after = args.servers();
    let cpu: f64 = after.iter().map(|s| s.2).sum::<f64>() - before.iter().map(|s| s.2).sum::<f64>();
    let answered = st.acked.load(Relaxed);
    Ok(json!({
        "rate": rate,
        "users": users,
        "queries": n,
        "answered": answered,
        "errors": st.send_errors.load(Relaxed),
        "sentPerSecond": n as f64 / sending,
        "hitsPerQuery": hits.load(Relaxed) as f64 / answered.max(1) as f64,
        "emptyAnswers": empty.load(Relaxed),
        "latencyMs": st.latency_ms(),
        "serverCpuMillisPerQuery": cpu * 1000.0 / answered.max(1) as f64,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_match_the_seed_vocabulary() {
        // pg_temp.bench_word of loadtest/search/seed.sql.
        assert_eq!(word(0), "waaa");
        assert_eq!(word(27), "wabb");
        assert_eq!(word(3999), "wfxv");
    }
}
