//! Hands envelopes to this node's sockets, whichever backplane brought them.
//!
//! One task delivers, in arrival order, so each socket sees a node's deliveries in one
//! sequence. Two lanes: room and user traffic first, what contacts are told (status
//! changes, a burst of them when many users come online) after it, so a storm of
//! status updates never holds chat messages back. What is waiting is delivered as a
//! batch, and what one socket gets from a batch goes out in one write.
//!
//! Healing: what live delivery missed (a gap that does not fill within the hold, the
//! messages of a Redis outage, a publish that never reached this node) is read from the
//! database in a separate task and fed back here, so it goes out in `seq` order
//! before what follows it, and the relay never waits on the database.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::contacts::{route, Change, ContactsQueue, Told};
use super::heal::{Healing, Reason};
use super::healer::{Done, Healer, Purpose};
use super::interest::{Interest, Tracking};
use super::members::{apply_membership, Members};
use super::order::SeqOrder;
use super::status::{BatchEncoder, Batches, DirtyRooms, StatusOptions};
use super::{keys, Envelope, Payload, Target};
use socketio_server::{Outgoing, Server};

/// Envelopes taken into one batch.
const BATCH: usize = 256;

/// Handle to the delivery task.
pub struct Relay {
    tx: mpsc::UnboundedSender<Envelope>,
    contacts: Arc<ContactsQueue>,
    pub io: Server,
    pub interest: Interest,
    pub members: Arc<Members>,
    /// Large rooms whose online count the service is to send.
    pub dirty: DirtyRooms,
}

impl Relay {
    /// Starts the delivery task; `tracking` tells it which rooms have local sockets and
    /// when the subscription came back; `healing` (if any) reads what was missed.
    pub fn spawn(
        io: Server,
        interest: Interest,
        tracking: mpsc::UnboundedReceiver<Tracking>,
        healing: Option<Healing>,
        status: StatusOptions,
    ) -> Relay {
        let (tx, rx) = mpsc::unbounded_channel();
        let contacts = Arc::new(ContactsQueue::default());
        let (healer, done_rx) = Healer::new(healing);
        let members = Arc::new(Members::default());
        let dirty = DirtyRooms::default();
        let worker = Worker {
            io: io.clone(),
            interest: interest.clone(),
            members: members.clone(),
            order: SeqOrder::default(),
            told: Told::default(),
            healer,
            batches: Batches::default(),
            encode_batch: status.encode_batch,
            dirty: dirty.clone(),
        };
        tokio::spawn(worker.run(rx, contacts.clone(), tracking, done_rx, status.window));
        Relay {
            tx,
            contacts,
            io,
            interest,
            members,
            dirty,
        }
    }

    /// Queues an envelope for this node's sockets.
    pub fn deliver(&self, env: Envelope) {
        match env.payload {
            Payload::Contacts { .. } => self.contacts.push(env),
            _ => {
                let _ = self.tx.send(env);
            }
        }
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

struct Worker {
    io: Server,
    interest: Interest,
    members: Arc<Members>,
    order: SeqOrder,
    /// Whom the contacts events seen lately were told.
    told: Told,
    healer: Healer,
    /// Status changes waiting for the next window, per recipient taking batches.
    batches: Batches,
    encode_batch: BatchEncoder,
    dirty: DirtyRooms,
}

/// Takes what else is waiting in a lane, up to a batch.
fn fill(first: Envelope, rx: &mut mpsc::UnboundedReceiver<Envelope>) -> Vec<Envelope> {
    let mut batch = vec![first];
    while batch.len() < BATCH {
        match rx.try_recv() {
            Ok(env) => batch.push(env),
            Err(_) => break,
        }
    }
    batch
}

impl Worker {
    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<Envelope>,
        contacts: Arc<ContactsQueue>,
        mut tracking: mpsc::UnboundedReceiver<Tracking>,
        mut done_rx: mpsc::UnboundedReceiver<Done>,
        window: Duration,
    ) {
        let mut batch_tick = tokio::time::interval(window.max(Duration::from_millis(1)));
        batch_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sweep = tokio::time::interval(Duration::from_secs(2));
        let audit_every = self.healer.audit_every();
        let mut audit = tokio::time::interval(audit_every.unwrap_or(Duration::from_secs(3600)));
        audit.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let next_due = self.order.next_due();
            let wait = async {
                match next_due {
                    Some(due) => tokio::time::sleep_until(due.into()).await,
                    None => std::future::pending().await,
                }
            };
            let mut ready = Vec::new();
            tokio::select! {
                biased;
                // Few and small: first, so a flood of envelopes never holds a heal back.
                Some(t) = tracking.recv() => self.healer.track(&mut self.order, t, &mut tracking),
                Some(done) = done_rx.recv() => self.healer.done(&mut self.order, done, &mut ready),
                env = rx.recv() => match env {
                    Some(env) => {
                        for env in fill(env, &mut rx) {
                            self.order.accept(env, &mut ready);
                        }
                    }
                    None => break,
                },
                _ = wait => {
                    for req in self.order.overdue(self.healer.enabled(), &mut ready) {
                        self.healer.read_messages(req);
                    }
                }
                _ = contacts.ready() => ready = contacts.take(BATCH),
                _ = batch_tick.tick(), if !self.batches.is_empty() => {
                    let due = self.batches.take();
                    self.send_batches(due).await;
                }
                _ = sweep.tick() => self.forget_idle(),
                _ = audit.tick(), if audit_every.is_some() && !self.healer.auditing => {
                    self.healer.auditing = true;
                    self.healer.read_heads(self.order.watched(), Purpose::Heal(Reason::Audit));
                }
            }
            self.deliver(ready).await;
        }
    }

    fn forget_idle(&mut self) {
        self.order.forget_idle();
        self.told.forget_idle();
    }

    /// Delivers a batch in order: membership changes apply between the events around
    /// them; the events in between go out together.
    async fn deliver(&mut self, ready: Vec<Envelope>) {
        let mut batch: Vec<(Outgoing, &'static str)> = Vec::new();
        let kind = |t: &Target| super::redis::kind(t);
        for env in ready {
            match env.payload {
                Payload::Membership { room_id, member } => {
                    self.flush(std::mem::take(&mut batch)).await;
                    let (io, interest, members) = (&self.io, &self.interest, &self.members);
                    apply_membership(io, interest, members, &env.target, &room_id, member);
                }
                Payload::Packet { packet, .. } => batch.push((
                    Outgoing {
                        rooms: vec![env.target.socket_room()],
                        except: (env.except_user.as_deref().map(keys::user))
                            .or(env.except_peer.as_deref().map(keys::peer)),
                        packet,
                    },
                    kind(&env.target),
                )),
                Payload::Contacts {
                    id,
                    subject,
                    packet,
                    item,
                } => {
                    let Target::Members(room) = &env.target else {
                        continue;
                    };
                    // No subject: a packet for every local member (a room's count).
                    let contacts = match subject.is_empty() {
                        true => self.members.local_members(room),
                        false => self.told.contacts(id, room, &subject, &self.members),
                    };
                    let change = Change {
                        subject: &subject,
                        packet,
                        item,
                    };
                    let (out, full) = route(change, contacts, &self.members, &mut self.batches);
                    if let Some(out) = out {
                        batch.push((out, kind(&env.target)));
                    }
                    if !full.is_empty() {
                        self.flush(std::mem::take(&mut batch)).await;
                        self.send_batches(full).await;
                    }
                }
                Payload::RoomPresence => {
                    if let Target::Members(room) = &env.target {
                        if self.members.has_room(room) {
                            self.dirty.mark(room);
                        }
                    }
                }
            }
        }
        self.flush(batch).await;
    }

    /// One packet per recipient, to their sockets that take batches.
    async fn send_batches(&self, due: Vec<(String, Vec<bytes::Bytes>)>) {
        let batch = due
            .into_iter()
            .map(|(user, items)| {
                (
                    Outgoing {
                        rooms: vec![keys::user_status(&user, true)],
                        except: None,
                        packet: (self.encode_batch)(items),
                    },
                    "user",
                )
            })
            .collect();
        self.flush(batch).await;
    }

    async fn flush(&self, batch: Vec<(Outgoing, &'static str)>) {
        let (out, kinds): (Vec<Outgoing>, Vec<&'static str>) = batch.into_iter().unzip();
        let reached = match out.as_slice() {
            [] => return,
            [one] => {
                let rooms: Vec<&str> = one.rooms.iter().map(String::as_str).collect();
                vec![
                    self.io
                        .broadcast_packet(&rooms, one.except.as_deref(), &one.packet)
                        .await,
                ]
            }
            many => self.io.broadcast_many(many).await,
        };
        for (kind, fanout) in kinds.iter().zip(reached) {
            metrics::counter!("classchat_broadcasts_total", "kind" => *kind).increment(1);
            metrics::histogram!("classchat_broadcast_fanout_sockets").record(fanout as f64);
        }
    }
}
