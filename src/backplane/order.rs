//! Per-room `seq` order on this node, and what it missed. A message ahead of a gap is
//! held until the gap fills; past `HOLD` the missing range is read from the database and
//! delivered first (a heal); a live copy of what was healed is dropped. A room's changes
//! (deletions, by change `seq`) are a second stream, ordered and healed the same way.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use super::heal::{pick, Heads, Missed, Reason, Request, Stream};
use super::{Envelope, Payload, Seq, Target};

/// How long a message waits for a missing predecessor.
pub const HOLD: Duration = Duration::from_millis(150);
/// Ordering state of rooms without local sockets, idle this long, is forgotten.
const IDLE: Duration = Duration::from_secs(600);

#[derive(Default)]
struct RoomOrder {
    /// `last` is meaningful: a baseline was read or a message seen.
    known: bool,
    /// Highest `seq` up to which every message (above `base`) was delivered.
    last: i64,
    /// Messages up to this predate what this node tracks: delivered as they come.
    base: i64,
    /// Messages waiting for a gap to fill, by `seq`, with when they arrived.
    held: BTreeMap<i64, (Envelope, Instant)>,
    /// A database read for this room is under way.
    healing: Option<Reason>,
    /// Local sockets joined the room: kept until they are gone.
    watched: bool,
    /// The head `seq` read by the previous audit.
    audit_head: i64,
    /// Heal up to this too, once the read under way is back.
    wanted: i64,
    touched: Option<Instant>,
}

#[derive(Default)]
pub struct SeqOrder {
    rooms: HashMap<(String, Stream), RoomOrder>,
}

fn message_seq(env: &Envelope) -> Option<(&str, Stream, i64)> {
    match (&env.target, &env.payload) {
        (Target::Room(room), Payload::Packet { seq: Some(seq), .. }) => Some(match seq {
            Seq::Message(n) => (room.as_str(), Stream::Messages, *n),
            Seq::Change(n) => (room.as_str(), Stream::Changes, *n),
        }),
        _ => None,
    }
}

impl RoomOrder {
    fn request(
        &mut self,
        (room, stream): (&str, Stream),
        upto: i64,
        reason: Reason,
    ) -> Option<Request> {
        if !self.known || upto <= self.last {
            return None;
        }
        if self.healing.is_some() {
            self.wanted = self.wanted.max(upto);
            return None;
        }
        self.healing = Some(reason);
        Some(Request {
            room: room.to_string(),
            stream,
            after: self.last,
            upto,
            reason,
        })
    }

    /// Everything held goes out as it is (a gap stays: the database could not fill it).
    fn release(&mut self, ready: &mut Vec<Envelope>) {
        if !self.held.is_empty() {
            metrics::counter!("classchat_relay_gaps_total").increment(1);
        }
        while let Some((seq, (env, _))) = self.held.pop_first() {
            self.last = self.last.max(seq);
            ready.push(env);
        }
    }

    /// Held messages that now follow on without a gap (and held copies of delivered ones
    /// dropped).
    fn take_consecutive(&mut self, out: &mut Vec<Envelope>) {
        while let Some(entry) = self.held.first_entry() {
            if *entry.key() > self.last + 1 {
                break;
            }
            let (seq, (env, _)) = entry.remove_entry();
            if seq == self.last + 1 {
                self.last = seq;
                out.push(env);
            }
        }
    }
}

impl SeqOrder {
    fn get(&mut self, room: &str, stream: Stream) -> Option<&mut RoomOrder> {
        self.rooms.get_mut(&(room.to_string(), stream))
    }

    /// Local sockets joined `room`. True if its baseline (heads) is still unknown.
    pub fn watch(&mut self, room: &str) -> bool {
        let mut unknown = false;
        for stream in Stream::BOTH {
            let order = self.rooms.entry((room.to_string(), stream)).or_default();
            order.watched = true;
            unknown |= !order.known;
        }
        unknown
    }

    /// No local socket is in `room` any more: its state goes.
    pub fn forget(&mut self, room: &str) {
        for stream in Stream::BOTH {
            self.rooms.remove(&(room.to_string(), stream));
        }
    }

    /// Rooms with local sockets.
    pub fn watched(&self) -> Vec<String> {
        let w = self.rooms.iter();
        w.filter(|((_, s), o)| o.watched && *s == Stream::Messages)
            .map(|((r, _), _)| r.clone())
            .collect()
    }

    /// The room's heads when this node started to track it: what is above them is
    /// delivered in order and healed.
    pub fn baseline(&mut self, room: &str, heads: Heads) {
        for stream in Stream::BOTH {
            if let Some(order) = self.get(room, stream) {
                if !order.known {
                    let head = pick(heads, stream);
                    (order.known, order.last, order.base) = (true, head, head);
                }
            }
        }
    }

    /// Takes an envelope: it (and held messages that now follow on) go to `ready`,
    /// unless it is a message ahead of a gap, which is held, or one already delivered.
    pub fn accept(&mut self, env: Envelope, ready: &mut Vec<Envelope>) {
        let Some((room, stream, seq)) = message_seq(&env) else {
            ready.push(env);
            return;
        };
        let now = Instant::now();
        let order = self.rooms.entry((room.to_string(), stream)).or_default();
        order.touched = Some(now);
        if !order.known {
            (order.known, order.last, order.base) = (true, seq, seq - 1);
            ready.push(env);
            return;
        }
        if seq <= order.base {
            ready.push(env);
        } else if seq <= order.last || order.held.contains_key(&seq) {
            metrics::counter!("classchat_relay_duplicates_total").increment(1);
        } else if seq == order.last + 1 {
            order.last = seq;
            ready.push(env);
            order.take_consecutive(ready);
        } else {
            metrics::counter!("classchat_relay_reordered_total").increment(1);
            order.held.insert(seq, (env, now));
        }
    }

    /// When the longest-held message of a room not being healed is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.rooms
            .values()
            .filter(|r| r.healing.is_none())
            .filter_map(|r| r.held.values().map(|(_, t)| *t + HOLD).min())
            .min()
    }

    /// Rooms whose held messages waited too long for a gap: the reads that fill it; or,
    /// when `heal` is false, what they held, in `seq` order, to `ready`.
    pub fn overdue(&mut self, heal: bool, ready: &mut Vec<Envelope>) -> Vec<Request> {
        let now = Instant::now();
        let mut out = Vec::new();
        for ((room, stream), order) in &mut self.rooms {
            if order.healing.is_some() || !order.held.values().any(|(_, t)| now >= *t + HOLD) {
                continue;
            }
            let first = order.held.keys().next().copied().unwrap_or_default();
            match heal.then(|| order.request((room, *stream), first - 1, Reason::Gap)) {
                Some(Some(req)) => out.push(req),
                _ => order.release(ready),
            }
        }
        out
    }

    /// A room's heads as just read: the reads that deliver what is missing up to them.
    pub fn heal_to(&mut self, room: &str, heads: Heads, reason: Reason) -> Vec<Request> {
        self.baseline(room, heads);
        let mut out = Vec::new();
        for stream in Stream::BOTH {
            if let Some(order) = self.get(room, stream) {
                out.extend(order.request((room, stream), pick(heads, stream), reason));
            }
        }
        out
    }

    /// An audit read `heads`: what was stored before the previous audit and is still not
    /// delivered is read now (what is newer may still be on its way).
    pub fn audit(&mut self, room: &str, heads: Heads) -> Vec<Request> {
        self.baseline(room, heads);
        let mut out = Vec::new();
        for stream in Stream::BOTH {
            if let Some(order) = self.get(room, stream) {
                let due = std::mem::replace(&mut order.audit_head, pick(heads, stream));
                out.extend(order.request((room, stream), due, Reason::Audit));
            }
        }
        out
    }

    /// A read came back: the missing messages go out in order, then what was held and
    /// now follows on. Returns the next read if the range is not complete yet.
    pub fn healed(
        &mut self,
        (room, stream): (&str, Stream),
        upto: i64,
        found: Vec<Missed>,
        ready: &mut Vec<Envelope>,
    ) -> Option<Request> {
        let order = self.get(room, stream)?;
        let reason = order.healing.take()?;
        let mut n = 0;
        let more = !found.is_empty();
        for (seq, packet) in found {
            if seq <= order.last {
                continue;
            }
            order.last = seq;
            n += 1;
            ready.push(Envelope {
                target: Target::Room(room.to_string()),
                except_user: None,
                except_peer: None,
                payload: Payload::Packet {
                    packet,
                    seq: Some(stream.seq(seq)),
                },
            });
        }
        metrics::counter!("classchat_relay_healed_total", "reason" => reason.label()).increment(n);
        order.take_consecutive(ready);
        // Go on up to the range's end, what was wanted meanwhile, and the held messages.
        let before_held = order.held.keys().next().map_or(0, |s| s - 1);
        let want = upto.max(std::mem::take(&mut order.wanted)).max(before_held);
        if order.last < want && (more || want > upto) {
            return order.request((room, stream), want, reason);
        }
        if order
            .held
            .keys()
            .next()
            .is_some_and(|s| *s > order.last + 1)
        {
            order.release(ready);
        }
        None
    }

    /// A read failed: what was held goes out with its gap.
    pub fn heal_failed(&mut self, room: &str, stream: Stream, ready: &mut Vec<Envelope>) {
        if let Some(order) = self.get(room, stream) {
            order.healing = None;
            order.wanted = 0;
            order.release(ready);
        }
    }

    /// Forgets rooms without local sockets that were idle for a while.
    pub fn forget_idle(&mut self) {
        let now = Instant::now();
        self.rooms.retain(|_, r| {
            r.watched
                || !r.held.is_empty()
                || r.healing.is_some()
                || r.touched.is_some_and(|t| now.duration_since(t) < IDLE)
        });
    }
}

#[cfg(test)]
#[path = "order_tests.rs"]
mod tests;
