//! What contacts are told, on its way to this node's sockets: a bounded, coalescing queue
//! (a newer change of a subject replaces an older one still waiting for the same room),
//! and the lookup of whom to tell, linear in the members of the subject's rooms (each
//! contact once per change, however many rooms they share with the subject).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use socketio_server::Outgoing;
use tokio::sync::Notify;

use super::members::Members;
use super::status::Batches;
use super::{keys, Envelope, Payload, Target};

/// Envelopes waiting at most (one per subject and room); past it, new ones are dropped
/// and counted in `classchat_contacts_dropped_total`.
pub const MAX_WAITING: usize = 1 << 18;
/// The copies of one change (one per room of its subject) arrive within this.
const WINDOW: Duration = Duration::from_secs(10);
/// Changes remembered at most; past it, the memory of whom was told starts over.
const MAX_CHANGES: usize = 1 << 16;

type Key = (String, String);

#[derive(Default)]
struct Waiting {
    order: VecDeque<Key>,
    envelopes: HashMap<Key, Envelope>,
}

/// The contacts lane of the relay.
#[derive(Default)]
pub struct ContactsQueue {
    waiting: Mutex<Waiting>,
    ready: Notify,
}

fn key(env: &Envelope) -> Option<Key> {
    match (&env.target, &env.payload) {
        (Target::Members(room), Payload::Contacts { subject, .. }) => {
            Some((subject.clone(), room.clone()))
        }
        _ => None,
    }
}

impl ContactsQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a contacts envelope; one still waiting for the same subject and room is
    /// replaced (the latest change wins).
    pub fn push(&self, env: Envelope) {
        let Some(k) = key(&env) else { return };
        let mut w = self.lock();
        let len = w.envelopes.len();
        match w.envelopes.entry(k) {
            Entry::Occupied(mut e) => {
                e.insert(env);
                metrics::counter!("classchat_status_coalesced_total").increment(1);
            }
            Entry::Vacant(e) if len < MAX_WAITING => {
                let k = e.key().clone();
                e.insert(env);
                w.order.push_back(k);
            }
            Entry::Vacant(_) => {
                metrics::counter!("classchat_contacts_dropped_total").increment(1);
                return;
            }
        }
        drop(w);
        self.ready.notify_one();
    }

    /// Waits until something is queued.
    pub async fn ready(&self) {
        self.ready.notified().await
    }

    /// Takes up to `max` envelopes, oldest first; wakes the next `ready` if more wait.
    pub fn take(&self, max: usize) -> Vec<Envelope> {
        let mut w = self.lock();
        let mut out = Vec::with_capacity(max.min(w.order.len()));
        while out.len() < max {
            let Some(k) = w.order.pop_front() else { break };
            if let Some(env) = w.envelopes.remove(&k) {
                out.push(env);
            }
        }
        let more = !w.order.is_empty();
        drop(w);
        if more {
            self.ready.notify_one();
        }
        out
    }

    /// Envelopes waiting.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().envelopes.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whom each recent change was told (on this node).
#[derive(Default)]
pub struct Told {
    changes: HashMap<u64, (Instant, HashSet<String>)>,
}

impl Told {
    /// The local members of `room` to tell of change `id` of `subject`: everyone not told
    /// yet, but the subject.
    pub fn contacts(
        &mut self,
        id: u64,
        room: &str,
        subject: &str,
        members: &Members,
    ) -> Vec<String> {
        if self.changes.len() >= MAX_CHANGES && !self.changes.contains_key(&id) {
            self.forget_idle();
            if self.changes.len() >= MAX_CHANGES {
                self.changes.clear();
            }
        }
        let (_, told) = self
            .changes
            .entry(id)
            .or_insert_with(|| (Instant::now(), HashSet::new()));
        members.contacts_in(room, subject, told)
    }

    /// Forgets the changes older than the window.
    pub fn forget_idle(&mut self) {
        let now = Instant::now();
        self.changes
            .retain(|_, (t, _)| now.duration_since(*t) < WINDOW);
    }
}

/// One status change as it reaches this node: its subject, the single event, and the
/// subject's state alone for batches (empty for a packet every member gets as is).
pub struct Change<'a> {
    pub subject: &'a str,
    pub packet: Bytes,
    pub item: Bytes,
}

/// Where a change goes among `contacts` (this node's users to tell): the single event to
/// the sockets that take single events, now; the item into the batches of the others.
/// Also returns the recipients whose batch filled up, to send now.
pub fn route(
    change: Change<'_>,
    contacts: Vec<String>,
    members: &Members,
    batches: &mut Batches,
) -> (Option<Outgoing>, Vec<(String, Vec<Bytes>)>) {
    if contacts.is_empty() {
        return (None, Vec::new());
    }
    let packet = change.packet;
    if change.item.is_empty() {
        let rooms = contacts.iter().map(|u| keys::user(u)).collect();
        return (
            Some(Outgoing {
                rooms,
                except: None,
                packet,
            }),
            Vec::new(),
        );
    }
    let mut singles = Vec::new();
    let mut full = Vec::new();
    for (u, (single, batched)) in contacts.iter().zip(members.modes(&contacts)) {
        if single {
            singles.push(keys::user_status(u, false));
        }
        if batched {
            if let Some(items) = batches.add(u, change.subject, change.item.clone()) {
                full.push((u.clone(), items));
            }
        }
    }
    let out = (!singles.is_empty()).then_some(Outgoing {
        rooms: singles,
        except: None,
        packet,
    });
    (out, full)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(id: u64, subject: &str, room: &str) -> Envelope {
        Envelope {
            target: Target::Members(room.into()),
            except_user: None,
            except_peer: None,
            payload: Payload::Contacts {
                id,
                subject: subject.into(),
                packet: bytes::Bytes::from(id.to_string()),
                item: bytes::Bytes::new(),
            },
        }
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_newer_change_replaces_the_one_waiting_for_the_same_room() {
        let q = ContactsQueue::default();
        for id in 0..100 {
            q.push(change(id, "s", "r1"));
            q.push(change(id, "s", "r2"));
        }
        assert_eq!(q.len(), 2);
        let got = q.take(10);
        let ids: Vec<u64> = got
            .iter()
            .map(|e| match e.payload {
                Payload::Contacts { id, .. } => id,
                _ => 0,
            })
            .collect();
        assert_eq!(ids, vec![99, 99]);
        assert!(q.is_empty());
    }

    #[test]
    fn each_contact_is_told_once_per_change_in_time_linear_in_the_rooms() {
        let m = Members::default();
        let rooms: Vec<String> = (0..20_000).map(|i| format!("r{i}")).collect();
        m.socket_opened("subject", rooms.clone(), false);
        m.socket_opened("friend", rooms.clone(), false);
        m.socket_opened("other", ids(&["r7"]), false);
        let mut told = Told::default();
        let start = Instant::now();
        let mut reached = Vec::new();
        for r in &rooms {
            reached.extend(told.contacts(1, r, "subject", &m));
        }
        reached.sort();
        assert_eq!(reached, ids(&["friend", "other"]));
        // Quadratic (the old lookup) took seconds here.
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(told.contacts(2, "r7", "subject", &m).len(), 2);
    }
}
