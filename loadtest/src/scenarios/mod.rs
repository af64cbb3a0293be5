//! The load scenarios.

mod churn;
mod connect;
mod fanout;

pub use churn::{presence_churn, typing_storm};
pub use connect::connect;
pub use fanout::fanout;

use std::sync::Arc;
use std::time::Duration;

use crate::stats::Stats;

/// Prints a progress line to stderr every second until `done` is set.
pub fn progress(st: Arc<Stats>, done: Arc<std::sync::atomic::AtomicBool>) {
    tokio::spawn(async move {
        use std::sync::atomic::Ordering::Relaxed;
        let start = std::time::Instant::now();
        let mut last = 0;
        while !done.load(Relaxed) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let d = st.deliveries.load(Relaxed);
            eprintln!(
                "[{:>5.1}s] sent {} acked {} deliveries {} ({}/s) errors {}",
                start.elapsed().as_secs_f64(),
                st.sent.load(Relaxed),
                st.acked.load(Relaxed),
                d,
                d - last,
                st.send_errors.load(Relaxed) + st.connect_errors.load(Relaxed),
            );
            last = d;
        }
    });
}

/// A unique run id, so repeated runs against one database do not collide.
pub fn run_id(prefix: &str) -> String {
    format!("{prefix}-{:x}", crate::stats::now_micros() % 0xffff_ffff)
}
