//! Hands envelopes to this node's sockets, whichever backplane brought them.
//!
//! One task delivers everything, in arrival order, so each socket sees a node's
//! deliveries in one sequence. New messages carry their room's `seq`: one that
//! arrives ahead of a gap (its predecessor was published a moment later by another
//! sender or node) is held back briefly until the gap fills, so members see `seq`
//! in increasing order; if the gap does not fill within `HOLD`, delivery goes on
//! (the client fills the gap from history).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socketioxide::SocketIo;
use tokio::sync::mpsc;

use super::interest::Interest;
use super::members::Members;
use super::{keys, Envelope, Payload, Target};
use crate::realtime::events::NEW_CHAT_MESSAGE;

/// How long a message waits for a missing predecessor.
const HOLD: Duration = Duration::from_millis(150);
/// A larger jump is not a race between senders but traffic this node did not hold a
/// subscription for: delivered at once.
const MAX_GAP: i64 = 32;
/// Ordering state of rooms idle this long is forgotten.
const IDLE: Duration = Duration::from_secs(600);
/// The copies of one contacts event (one per room of its subject) arrive within this.
const CONTACTS_WINDOW: Duration = Duration::from_secs(10);

/// Handle to the delivery task.
pub struct Relay {
    tx: mpsc::UnboundedSender<Envelope>,
    pub io: SocketIo,
    pub interest: Interest,
    pub members: Arc<Members>,
}

impl Relay {
    pub fn spawn(io: SocketIo, interest: Interest) -> Relay {
        let (tx, rx) = mpsc::unbounded_channel();
        let members = Arc::new(Members::default());
        let worker = Worker {
            io: io.clone(),
            interest: interest.clone(),
            members: members.clone(),
            rooms: HashMap::new(),
            contacts: HashMap::new(),
        };
        tokio::spawn(worker.run(rx));
        Relay {
            tx,
            io,
            interest,
            members,
        }
    }

    /// Queues an envelope for this node's sockets.
    pub fn deliver(&self, env: Envelope) {
        let _ = self.tx.send(env);
    }

    /// Applies a membership change to this node's sockets and member index.
    pub fn apply_membership(&self, target: &Target, room_id: &str, member: bool) {
        apply_membership(
            &self.io,
            &self.interest,
            &self.members,
            target,
            room_id,
            member,
        )
    }
}

#[derive(Default)]
struct RoomOrder {
    /// Highest `seq` delivered (0: none seen yet).
    last: i64,
    /// Messages waiting for a gap to fill, by `seq`, with when they arrived.
    held: BTreeMap<i64, (Envelope, Instant)>,
    touched: Option<Instant>,
}

struct Worker {
    io: SocketIo,
    interest: Interest,
    members: Arc<Members>,
    rooms: HashMap<String, RoomOrder>,
    /// Contacts events seen lately: when first, and the rooms whose members were told.
    contacts: HashMap<u64, (Instant, Vec<String>)>,
}

fn message_seq(env: &Envelope) -> Option<(&str, i64)> {
    match (&env.target, &env.payload) {
        (Target::Room(room), Payload::Event { name, body }) if *name == NEW_CHAT_MESSAGE => {
            body["data"]["seq"].as_i64().map(|s| (room.as_str(), s))
        }
        _ => None,
    }
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Envelope>) {
        let mut sweep = tokio::time::interval(Duration::from_secs(60));
        loop {
            let next_due = self
                .rooms
                .values()
                .filter_map(|r| r.held.values().map(|(_, t)| *t + HOLD).min())
                .min();
            let wait = async {
                match next_due {
                    Some(due) => tokio::time::sleep_until(due.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                env = rx.recv() => match env {
                    Some(env) => self.accept(env).await,
                    None => break,
                },
                _ = wait => self.release_overdue().await,
                _ = sweep.tick() => self.forget_idle(),
            }
        }
    }

    async fn accept(&mut self, env: Envelope) {
        let Some((room, seq)) = message_seq(&env) else {
            return self.emit(&env).await;
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
        let mut ready = vec![env];
        ready.extend(take_consecutive(order));
        for env in ready {
            self.emit(&env).await;
        }
    }

    /// Delivers what waited too long for a gap, in `seq` order.
    async fn release_overdue(&mut self) {
        let now = Instant::now();
        let mut ready = Vec::new();
        for order in self.rooms.values_mut() {
            if order.held.values().any(|(_, t)| now >= *t + HOLD) {
                metrics::counter!("classchat_relay_gaps_total").increment(1);
                while let Some((seq, (env, _))) = order.held.pop_first() {
                    order.last = order.last.max(seq);
                    ready.push(env);
                }
            }
        }
        for env in ready {
            self.emit(&env).await;
        }
    }

    fn forget_idle(&mut self) {
        let now = Instant::now();
        self.rooms.retain(|_, r| {
            !r.held.is_empty() || r.touched.is_some_and(|t| now.duration_since(t) < IDLE)
        });
        self.contacts
            .retain(|_, (t, _)| now.duration_since(*t) < CONTACTS_WINDOW);
    }

    async fn emit(&mut self, env: &Envelope) {
        match &env.payload {
            Payload::Event { name, body } => {
                // The namespace is gone once the node has closed (shutdown).
                let Some(ns) = self.io.of("/") else { return };
                let mut op = ns.clone().to(env.target.socket_room());
                if let Some(u) = &env.except_user {
                    op = op.except(keys::user(u));
                }
                if let Err(e) = op.emit(*name, body).await {
                    tracing::debug!(error = %e, event = name, "broadcast incomplete");
                }
                let fanout = ns.to(env.target.socket_room()).sockets().len();
                metrics::counter!("classchat_broadcasts_total", "event" => *name).increment(1);
                metrics::histogram!("classchat_broadcast_fanout_sockets").record(fanout as f64);
            }
            Payload::Contacts {
                id,
                subject,
                name,
                body,
            } => {
                let Target::Members(room) = &env.target else {
                    return;
                };
                let (_, told) = self
                    .contacts
                    .entry(*id)
                    .or_insert_with(|| (Instant::now(), Vec::new()));
                let contacts = self.members.contacts_in(room, told, subject);
                told.push(room.clone());
                if contacts.is_empty() {
                    return;
                }
                let rooms: Vec<String> = contacts.iter().map(|u| keys::user(u)).collect();
                let Some(ns) = self.io.of("/") else { return };
                if let Err(e) = ns.to(rooms).emit(*name, body).await {
                    tracing::debug!(error = %e, event = name, "broadcast incomplete");
                }
                metrics::counter!("classchat_broadcasts_total", "event" => *name).increment(1);
                metrics::histogram!("classchat_broadcast_fanout_sockets")
                    .record(contacts.len() as f64);
            }
            Payload::Membership { room_id, member } => apply_membership(
                &self.io,
                &self.interest,
                &self.members,
                &env.target,
                room_id,
                *member,
            ),
        }
    }
}

/// A membership change for the target user's local sockets: the member index follows
/// it, and on removal the sockets leave the chat room at once.
fn apply_membership(
    io: &SocketIo,
    interest: &Interest,
    members: &Members,
    target: &Target,
    room_id: &str,
    member: bool,
) {
    let Target::User(user) = target else {
        return;
    };
    if member {
        if members.joined(user, room_id) {
            interest.add(Target::Members(room_id.to_string()));
        }
        return;
    }
    if members.left(user, room_id) {
        interest.release(Target::Members(room_id.to_string()));
    }
    let name = keys::room(room_id);
    let Some(ns) = io.of("/") else { return };
    for s in ns.to(target.socket_room()).sockets() {
        if s.rooms().iter().any(|r| *r == name) {
            s.leave(name.clone());
            interest.release(Target::Room(room_id.to_string()));
        }
    }
}

/// Held messages that now follow on without a gap.
fn take_consecutive(order: &mut RoomOrder) -> Vec<Envelope> {
    let mut out = Vec::new();
    while let Some(entry) = order.held.first_entry() {
        if *entry.key() > order.last + 1 {
            break;
        }
        let (seq, (env, _)) = entry.remove_entry();
        order.last = order.last.max(seq);
        out.push(env);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg(seq: i64) -> Envelope {
        Envelope {
            target: Target::Room("r".into()),
            except_user: None,
            payload: Payload::Event {
                name: NEW_CHAT_MESSAGE,
                body: json!({ "data": { "seq": seq } }),
            },
        }
    }

    #[test]
    fn held_messages_follow_once_the_gap_fills() {
        let mut o = RoomOrder {
            last: 4,
            ..Default::default()
        };
        o.held.insert(7, (msg(7), Instant::now()));
        o.held.insert(6, (msg(6), Instant::now()));
        assert!(take_consecutive(&mut o).is_empty());
        o.last = 5;
        let out: Vec<i64> = take_consecutive(&mut o)
            .iter()
            .map(|e| message_seq(e).unwrap().1)
            .collect();
        assert_eq!(out, vec![6, 7]);
        assert_eq!(o.last, 7);
    }
}
