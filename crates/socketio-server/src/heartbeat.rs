//! The engine-wide heartbeat: one task, not a timer per session, that pings each session
//! when due and closes those whose pong is late, that never connected to a namespace in
//! time, or whose output failed.
//!
//! Deadlines sit in a min-heap, each session's earliest one only (its `next_check`).
//! Deadlines that move later (a pong came) leave their entry in place: it fires early,
//! finds nothing due and schedules the real one. Entries of closed sessions are dropped
//! as they come up. An entry earlier than the heap's head wakes the task at once, so
//! each deadline is met within the timer's resolution.

use std::cmp::{Ordering as Cmp, Reverse};
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;

use super::session::{lock, Session};
use super::{Inner, Server};

struct Entry {
    at: u64,
    session: Weak<Session>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Cmp> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Cmp {
        self.at.cmp(&other.at)
    }
}

#[derive(Default)]
pub(crate) struct Timers {
    heap: Mutex<BinaryHeap<Reverse<Entry>>>,
    /// Rung when an entry goes before the head.
    earlier: Notify,
}

impl Timers {
    /// Schedules a check of `session` at `at` (server clock, ms) unless one is scheduled
    /// already at or before it.
    pub fn schedule(&self, session: &Weak<Session>, next: &AtomicU64, at: u64) {
        if next.fetch_min(at, Ordering::AcqRel) <= at {
            return;
        }
        let mut heap = lock(&self.heap);
        let head = heap.peek().map_or(u64::MAX, |e| e.0.at);
        heap.push(Reverse(Entry {
            at,
            session: session.clone(),
        }));
        drop(heap);
        if at < head {
            self.earlier.notify_one();
        }
    }

    /// The sessions due by `now`, taken off the heap, and when the next one is due.
    fn due(&self, now: u64) -> (Vec<Weak<Session>>, Option<u64>) {
        let mut heap = lock(&self.heap);
        let mut due = Vec::new();
        while let Some(e) = heap.peek() {
            if e.0.at > now {
                return (due, Some(e.0.at));
            }
            if let Some(Reverse(e)) = heap.pop() {
                due.push(e.session);
            }
        }
        (due, None)
    }
}

/// Runs until the server is dropped.
pub(crate) async fn run(inner: Weak<Inner>) {
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let server = Server { inner: strong };
        let timers = server.inner.timers.clone();
        let earlier = timers.earlier.notified();
        tokio::pin!(earlier);
        earlier.as_mut().enable();
        let (due, next) = timers.due(server.now_ms());
        for s in due {
            if let Some(s) = s.upgrade() {
                check(&server, &s);
            }
        }
        let epoch = server.inner.epoch;
        drop(server);
        // Wakes now and then with nothing due, to notice the server is gone.
        let wait = next.map_or(Duration::from_secs(1), |at| {
            (epoch + Duration::from_millis(at)).saturating_duration_since(std::time::Instant::now())
        });
        let _ = tokio::time::timeout(wait.min(Duration::from_secs(1)), earlier).await;
    }
}

/// Whether a session's pong is late or its connect time is over, at `now`.
pub(crate) fn overdue(server: &Server, s: &Session, now: u64) -> bool {
    let pong_due = s.pong_due.load(Ordering::Acquire);
    let connect = server.config().connect_timeout.as_millis() as u64;
    (pong_due != 0 && now >= pong_due)
        || (!s.ever_connected.load(Ordering::Acquire) && now >= s.opened + connect)
}

/// Closes the session if it is due to close, pings it if a ping is due, and schedules
/// its next check.
fn check(server: &Server, s: &std::sync::Arc<Session>) {
    const PING: Bytes = Bytes::from_static(b"2");
    s.next_check.store(u64::MAX, Ordering::Release);
    let now = server.now_ms();
    if s.is_closed() {
        // A session kept after the client closed it is let go once its moment is over.
        let until = s.linger_until.load(Ordering::Acquire);
        if now < until {
            s.check_at(until);
        } else {
            server.forget(s);
        }
        return;
    }
    if overdue(server, s, now) || s.out_closed() {
        server.inner.metrics.timeouts.increment(1);
        server.close(s);
        return;
    }
    let cfg = server.config();
    let interval = cfg.ping_interval.as_millis() as u64;
    let ping_due = s.ping_due.load(Ordering::Acquire);
    if s.pong_due.load(Ordering::Acquire) == 0 && now >= ping_due {
        if s.upgrading.load(Ordering::Acquire) {
            // No ping while a WebSocket takes over: it pings afresh once it has.
            s.ping_due.store(now + interval, Ordering::Release);
        } else {
            // From when the ping was due, so a late check does not stretch the deadline.
            let timeout = cfg.ping_timeout.as_millis() as u64;
            s.pong_due.store(ping_due + timeout, Ordering::Release);
            let _ = s.send(&PING);
        }
    }
    let pong_due = s.pong_due.load(Ordering::Acquire);
    let mut next = if pong_due != 0 {
        pong_due
    } else {
        s.ping_due.load(Ordering::Acquire)
    };
    if !s.ever_connected.load(Ordering::Acquire) {
        next = next.min(s.opened + cfg.connect_timeout.as_millis() as u64);
    }
    s.check_at(next);
}
