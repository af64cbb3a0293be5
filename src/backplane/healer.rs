//! The relay's healing reads: rooms' heads and missed messages are read from the
//! database in tasks (a few at once) and reported back to the delivery task, which
//! applies them to its per-room order between deliveries.

use std::sync::Arc;

use tokio::sync::{mpsc, Semaphore};

use super::heal::Request;
use super::heal::{Heads, Healing, Missed, Reason, Stream, HEADS_CHUNK};
use super::interest::Tracking;
use super::order::SeqOrder;
use super::Envelope;

/// Database reads of healing under way at once.
const READS: usize = 4;

/// What a head read is for.
#[derive(Clone, Copy)]
pub enum Purpose {
    /// Rooms new to this node: where tracking starts.
    Baseline,
    /// Deliver what is missing up to the heads.
    Heal(Reason),
}

/// A database read of healing, done.
pub enum Done {
    Messages {
        room: String,
        stream: Stream,
        upto: i64,
        found: Result<Vec<Missed>, String>,
    },
    Heads {
        purpose: Purpose,
        heads: Result<Vec<(String, Heads)>, String>,
        last: bool,
    },
}

/// Starts reads and applies what they find.
pub struct Healer {
    healing: Option<Healing>,
    /// Where reads report back.
    done_tx: mpsc::UnboundedSender<Done>,
    reads: Arc<Semaphore>,
    /// An audit's head reads are under way.
    pub auditing: bool,
}

impl Healer {
    /// A healer (inert without `healing`) and where its reads report.
    pub fn new(healing: Option<Healing>) -> (Healer, mpsc::UnboundedReceiver<Done>) {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let healer = Healer {
            healing,
            done_tx,
            reads: Arc::new(Semaphore::new(READS)),
            auditing: false,
        };
        (healer, done_rx)
    }

    pub fn enabled(&self) -> bool {
        self.healing.is_some()
    }

    /// How often to audit, if at all.
    pub fn audit_every(&self) -> Option<std::time::Duration> {
        self.healing.as_ref().and_then(|h| h.audit)
    }

    /// Rooms gaining or losing their local sockets, and resubscriptions.
    pub fn track(
        &mut self,
        order: &mut SeqOrder,
        first: Tracking,
        rest: &mut mpsc::UnboundedReceiver<Tracking>,
    ) {
        let mut new = Vec::new();
        let mut resubscribed = false;
        let mut next = Some(first);
        while let Some(t) = next {
            match t {
                Tracking::Watch(room) => {
                    if order.watch(&room) {
                        new.push(room);
                    }
                }
                Tracking::Forget(room) => {
                    order.forget(&room);
                    new.retain(|r| *r != room);
                }
                Tracking::Resubscribed => resubscribed = true,
            }
            next = rest.try_recv().ok();
        }
        if !new.is_empty() {
            self.read_heads(new, Purpose::Baseline);
        }
        if resubscribed {
            self.read_heads(order.watched(), Purpose::Heal(Reason::Resubscribe));
        }
    }

    /// A read came back.
    pub fn done(&mut self, order: &mut SeqOrder, done: Done, ready: &mut Vec<Envelope>) {
        match done {
            Done::Messages {
                room,
                stream,
                upto,
                found,
            } => match found {
                Ok(found) => {
                    if let Some(req) = order.healed((&room, stream), upto, found, ready) {
                        self.read_messages(req);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, room, "healing read failed; the gap stays");
                    metrics::counter!("classchat_relay_heal_errors_total").increment(1);
                    order.heal_failed(&room, stream, ready);
                }
            },
            Done::Heads {
                purpose,
                heads,
                last,
            } => {
                if last && matches!(purpose, Purpose::Heal(Reason::Audit)) {
                    self.auditing = false;
                }
                let heads = match heads {
                    Ok(h) => h,
                    Err(e) => {
                        tracing::warn!(error = %e, "reading rooms' heads failed");
                        metrics::counter!("classchat_relay_heal_errors_total").increment(1);
                        return;
                    }
                };
                for (room, head) in heads {
                    let reqs = match purpose {
                        Purpose::Baseline => {
                            order.baseline(&room, head);
                            Vec::new()
                        }
                        Purpose::Heal(Reason::Audit) => order.audit(&room, head),
                        Purpose::Heal(reason) => order.heal_to(&room, head, reason),
                    };
                    for req in reqs {
                        self.read_messages(req);
                    }
                }
            }
        }
    }

    /// Reads a range of a room's messages or changes, in a task (a few at once).
    pub fn read_messages(&self, req: Request) {
        let Some(h) = &self.healing else { return };
        let (history, page, tx) = (h.history.clone(), h.page, self.done_tx.clone());
        let reads = self.reads.clone();
        tokio::spawn(async move {
            let _permit = reads.acquire_owned().await;
            let room = req.room.clone();
            let found = history
                .missed(req.stream, room, req.after, req.upto, page)
                .await;
            let _ = tx.send(Done::Messages {
                room: req.room,
                stream: req.stream,
                upto: req.upto,
                found,
            });
        });
    }

    /// Reads rooms' heads in a task, in chunks; each chunk reports back.
    pub fn read_heads(&self, rooms: Vec<String>, purpose: Purpose) {
        let Some(h) = &self.healing else {
            if matches!(purpose, Purpose::Heal(Reason::Audit)) {
                let _ = self.done_tx.send(Done::Heads {
                    purpose,
                    heads: Ok(Vec::new()),
                    last: true,
                });
            }
            return;
        };
        let (history, tx) = (h.history.clone(), self.done_tx.clone());
        let reads = self.reads.clone();
        tokio::spawn(async move {
            let chunks: Vec<Vec<String>> = rooms.chunks(HEADS_CHUNK).map(<[_]>::to_vec).collect();
            let n = chunks.len();
            if n == 0 {
                let _ = tx.send(Done::Heads {
                    purpose,
                    heads: Ok(Vec::new()),
                    last: true,
                });
            }
            for (i, chunk) in chunks.into_iter().enumerate() {
                let heads = {
                    let _permit = reads.acquire().await;
                    history.heads(chunk).await
                };
                let _ = tx.send(Done::Heads {
                    purpose,
                    heads,
                    last: i + 1 == n,
                });
            }
        });
    }
}
