//! Counters, latency histograms and server resource readings, for the progress line and
//! the final JSON report.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

const SHARDS: usize = 16;

pub struct Stats {
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub send_errors: AtomicU64,
    pub deliveries: AtomicU64,
    pub duplicated: AtomicU64,
    pub out_of_order: AtomicU64,
    pub connect_errors: AtomicU64,
    latency: Vec<Mutex<Histogram<u64>>>,
}

impl Stats {
    pub fn new() -> Self {
        let h = || Mutex::new(histogram());
        Stats {
            sent: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            deliveries: AtomicU64::new(0),
            duplicated: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
            connect_errors: AtomicU64::new(0),
            latency: (0..SHARDS).map(|_| h()).collect(),
        }
    }

    /// Records one delivery's latency in microseconds (`shard`: any per-task number).
    pub fn record(&self, shard: usize, micros: u64) {
        self.deliveries.fetch_add(1, Relaxed);
        if let Ok(mut h) = self.latency[shard % SHARDS].lock() {
            let _ = h.record(micros.max(1));
        }
    }

    /// The step counters (sent, acked, send errors, deliveries, duplicated, out of
    /// order), zeroed for the next step together with the latency histograms.
    pub fn take_counts(&self) -> [u64; 6] {
        for s in &self.latency {
            if let Ok(mut h) = s.lock() {
                h.reset();
            }
        }
        [
            &self.sent,
            &self.acked,
            &self.send_errors,
            &self.deliveries,
            &self.duplicated,
            &self.out_of_order,
        ]
        .map(|c| c.swap(0, Relaxed))
    }

    pub fn latency_ms(&self) -> Value {
        let mut all = histogram();
        for s in &self.latency {
            if let Ok(h) = s.lock() {
                let _ = all.add(&*h);
            }
        }
        quantiles_ms(&all)
    }
}

/// An empty histogram of microseconds (1 µs to 10 min, 3 significant digits).
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("bounds")
}

/// p50, p90, p99, p99.9 and max of a histogram of microseconds, in milliseconds.
pub fn quantiles_ms(h: &Histogram<u64>) -> Value {
    let q = |p: f64| h.value_at_quantile(p) as f64 / 1000.0;
    json!({
        "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p999": q(0.999),
        "max": h.max() as f64 / 1000.0, "count": h.len(),
    })
}

pub fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// A server process's resident memory (KiB) and CPU time used (user + system, seconds).
pub fn process(pid: u32) -> Option<(u64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some((rss, ticks / 100.0))
}

/// CPU time (user + nice + system + irq + softirq + steal, seconds) the whole machine has
/// used since boot, all cores together: with the server's and the load generator's own
/// time, what else ran during a step.
pub fn machine_busy() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let Some(cpu) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    let f: Vec<f64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|i| f.get(*i))
        .sum::<f64>();
    busy / 100.0
}
