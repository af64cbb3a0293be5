//! Tokens on live sockets: each socket is warned (`session-expiring`) a lead time before
//! its token's `exp` and, at `exp`, told `session-expired` and disconnected by the server.
//! One task and one min-heap of deadlines serve every socket (an entry is a deadline and
//! a weak pointer, see `deadlines`).

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use socketio_server::Socket;
use tokio::sync::Notify;

use super::deadlines::{Deadlines, Entry, Step};
use super::session::Session;
use crate::domain::events::{ServerEvent, SessionExpired, SessionExpiring};
use crate::domain::time::now_ms;

/// The deadlines of every live socket's token.
pub struct Expiry {
    heap: Mutex<Deadlines<Socket>>,
    /// Rung when an entry goes before the head.
    earlier: Arc<Notify>,
    lead_ms: i64,
}

impl Expiry {
    /// The deadlines, and the task that acts on them (it ends when they are dropped).
    pub fn start(lead: Duration) -> Arc<Expiry> {
        let expiry = Arc::new(Expiry {
            heap: Mutex::new(Deadlines::default()),
            earlier: Arc::new(Notify::new()),
            lead_ms: lead.as_millis() as i64,
        });
        tokio::spawn(run(Arc::downgrade(&expiry)));
        expiry
    }

    /// Starts the count-down of a connected socket: the warning at `exp` minus the lead
    /// (at once when less is left), then the end at `exp`.
    pub fn watch(&self, socket: &Arc<Socket>, expires_at_ms: i64) {
        self.push(expires_at_ms - self.lead_ms, Step::Warn, socket);
    }

    fn push(&self, at: i64, step: Step, socket: &Arc<Socket>) {
        let e = Entry {
            at,
            step,
            item: Arc::downgrade(socket),
        };
        let mut heap = self.heap.lock().unwrap_or_else(|e| e.into_inner());
        let earliest = heap.push(e, |s| !s.is_closed());
        drop(heap);
        if earliest {
            self.earlier.notify_one();
        }
    }

    fn due(&self, now: i64) -> (Vec<Entry<Socket>>, Option<i64>) {
        self.heap.lock().unwrap_or_else(|e| e.into_inner()).due(now)
    }

    fn act(&self, e: Entry<Socket>) {
        let Some(socket) = e.item.upgrade().filter(|s| s.connected()) else {
            return;
        };
        let Some(session) = socket.data::<Session>() else {
            return;
        };
        let exp = session.expires_at_ms;
        match e.step {
            Step::Warn => {
                let _ = super::send(&socket, &SessionExpiring { expires_at: exp });
                count(SessionExpiring::NAME);
                self.push(exp, Step::Expire, &socket);
            }
            Step::Expire => {
                let _ = super::send(
                    &socket,
                    &SessionExpired {
                        code: "token_expired",
                    },
                );
                count(SessionExpired::NAME);
                socket.disconnect();
            }
        }
    }
}

fn count(event: &'static str) {
    metrics::counter!("classchat_events_emitted_total", "event" => event).increment(1);
}

/// Acts on what is due, then sleeps until the next deadline (at most a second, to notice
/// the deadlines are gone), or until an earlier one is added.
async fn run(expiry: Weak<Expiry>) {
    loop {
        let Some(x) = expiry.upgrade() else {
            return;
        };
        let notify = x.earlier.clone();
        let earlier = notify.notified();
        tokio::pin!(earlier);
        earlier.as_mut().enable();
        let now = now_ms();
        let (due, next) = x.due(now);
        for e in due {
            x.act(e);
        }
        drop(x);
        let wait = next.map_or(1000, |at| (at - now).clamp(0, 1000)) as u64;
        let _ = tokio::time::timeout(Duration::from_millis(wait), earlier).await;
    }
}
