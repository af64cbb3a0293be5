//! Per-room `seq` order of new messages on this node. A message that arrives ahead of a
//! gap (its predecessor was published a moment later by another sender or node) is
//! held back briefly until the gap fills, so members see `seq` in increasing order; if
//! the gap does not fill within `HOLD`, delivery goes on (the client fills the gap from
//! history).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use super::{Envelope, Payload, Target};

/// How long a message waits for a missing predecessor.
const HOLD: Duration = Duration::from_millis(150);
/// A larger jump is not a race between senders but traffic this node did not hold a
/// subscription for: delivered at once. Smaller ones wait: a burst of concurrent sends
/// can publish dozens of messages out of `seq` order (a node that subscribes to a room
/// again after missing a few messages waits `HOLD` once).
const MAX_GAP: i64 = 4096;
/// Ordering state of rooms idle this long is forgotten.
const IDLE: Duration = Duration::from_secs(600);

#[derive(Default)]
struct RoomOrder {
    /// Highest `seq` delivered (0: none seen yet).
    last: i64,
    /// Messages waiting for a gap to fill, by `seq`, with when they arrived.
    held: BTreeMap<i64, (Envelope, Instant)>,
    touched: Option<Instant>,
}

#[derive(Default)]
pub struct SeqOrder {
    rooms: HashMap<String, RoomOrder>,
}

fn message_seq(env: &Envelope) -> Option<(&str, i64)> {
    match (&env.target, &env.payload) {
        (Target::Room(room), Payload::Packet { seq: Some(seq), .. }) => Some((room.as_str(), *seq)),
        _ => None,
    }
}

impl SeqOrder {
    /// Takes an envelope: it (and held messages that now follow on) go to `ready`,
    /// unless it is a message ahead of a gap, which is held.
    pub fn accept(&mut self, env: Envelope, ready: &mut Vec<Envelope>) {
        let Some((room, seq)) = message_seq(&env) else {
            ready.push(env);
            return;
        };
        let now = Instant::now();
        let order = self.rooms.entry(room.to_string()).or_default();
        order.touched = Some(now);
        if order.last != 0 && seq > order.last + 1 && seq - order.last <= MAX_GAP {
            metrics::counter!("classchat_relay_reordered_total").increment(1);
            order.held.insert(seq, (env, now));
            return;
        }
        order.last = order.last.max(seq);
        ready.push(env);
        take_consecutive(order, ready);
    }

    /// When the longest-held message is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.rooms
            .values()
            .filter_map(|r| r.held.values().map(|(_, t)| *t + HOLD).min())
            .min()
    }

    /// What waited too long for a gap, in `seq` order.
    pub fn release_overdue(&mut self, ready: &mut Vec<Envelope>) {
        let now = Instant::now();
        for order in self.rooms.values_mut() {
            if order.held.values().any(|(_, t)| now >= *t + HOLD) {
                metrics::counter!("classchat_relay_gaps_total").increment(1);
                while let Some((seq, (env, _))) = order.held.pop_first() {
                    order.last = order.last.max(seq);
                    ready.push(env);
                }
            }
        }
    }

    pub fn forget_idle(&mut self) {
        let now = Instant::now();
        self.rooms.retain(|_, r| {
            !r.held.is_empty() || r.touched.is_some_and(|t| now.duration_since(t) < IDLE)
        });
    }
}

/// Held messages that now follow on without a gap.
fn take_consecutive(order: &mut RoomOrder, out: &mut Vec<Envelope>) {
    while let Some(entry) = order.held.first_entry() {
        if *entry.key() > order.last + 1 {
            break;
        }
        let (seq, (env, _)) = entry.remove_entry();
        order.last = order.last.max(seq);
        out.push(env);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: i64) -> Envelope {
        Envelope {
            target: Target::Room("r".into()),
            except_user: None,
            payload: Payload::Packet {
                packet: bytes::Bytes::from(format!("42[\"m\",{seq}]")),
                seq: Some(seq),
            },
        }
    }

    fn seqs(v: &[Envelope]) -> Vec<i64> {
        v.iter().map(|e| message_seq(e).unwrap().1).collect()
    }

    #[test]
    fn held_messages_follow_once_the_gap_fills() {
        let mut o = SeqOrder::default();
        let mut ready = Vec::new();
        o.accept(msg(4), &mut ready);
        o.accept(msg(7), &mut ready);
        o.accept(msg(6), &mut ready);
        assert_eq!(seqs(&ready), vec![4]);
        assert!(o.next_due().is_some());
        o.accept(msg(5), &mut ready);
        assert_eq!(seqs(&ready), vec![4, 5, 6, 7]);
        assert!(o.next_due().is_none());
    }

    #[test]
    fn a_jump_beyond_the_gap_limit_is_delivered_at_once() {
        let mut o = SeqOrder::default();
        let mut ready = Vec::new();
        o.accept(msg(1), &mut ready);
        o.accept(msg(1 + MAX_GAP + 1), &mut ready);
        assert_eq!(seqs(&ready), vec![1, 2 + MAX_GAP]);
    }
}
