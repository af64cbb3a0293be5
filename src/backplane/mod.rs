//! Fan-out of events to sockets and presence: in-process on a single node, or through Redis
//! channels keyed by room and by user in cluster mode.

pub mod buckets;
mod codec;
mod contacts;
pub mod heal;
mod healer;
pub mod interest;
pub mod keys;
pub mod meetings;
pub mod members;
mod metrics_;
mod order;
pub mod presence;
mod redis;
mod relay;
pub mod status;

use std::sync::Arc;

use bytes::Bytes;

pub use heal::{Healing, History};
use interest::{Channels, Interest};
pub use metrics_::{describe_metrics, zero_metrics, TARGET_KINDS};
pub use presence::Presence;
use redis::RedisBackplane;
use relay::Relay;
pub use status::{BatchEncoder, StatusOptions};

/// Where a broadcast goes: everyone who joined a room, every socket of a user, or the
/// members of a room (joined or not) for what contacts are told.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    Room(String),
    User(String),
    Members(String),
    /// One meeting peer (one socket) of a user, wherever it is: carried on the user's
    /// channel, delivered to that peer's socket only.
    Peer {
        user: String,
        peer: String,
    },
}

impl Target {
    /// The Socket.IO room holding this target's local sockets (members are found
    /// through the member index instead: their sockets are in their user rooms).
    pub fn socket_room(&self) -> String {
        match self {
            Target::Room(id) | Target::Members(id) => keys::room(id),
            Target::User(id) => keys::user(id),
            Target::Peer { peer, .. } => keys::peer(peer),
        }
    }
}

/// A place in one of a room's ordered streams: its new messages (`seq`), or the changes
/// to stored messages (deletions; change `seq`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seq {
    Message(i64),
    Change(i64),
}

/// What a broadcast carries: packets already encoded for the wire, never event bodies
/// (the backplane neither reads nor names events).
#[derive(Clone, Debug)]
pub enum Payload {
    /// A Socket.IO packet for the target's sockets; `seq` for a room's new messages and
    /// changes, which each node delivers in order (each stream on its own).
    Packet { packet: Bytes, seq: Option<Seq> },
    /// A packet for the contacts of `subject`: every local member of the target room but
    /// the subject. A change is published once per room of the subject; `id` lets a node
    /// tell each contact once, however many of those rooms they share.
    /// `item` is the subject's state alone (opaque), for the sockets that take batches.
    Contacts {
        id: u64,
        subject: String,
        packet: Bytes,
        item: Bytes,
    },
    /// The online count of a large room (the target's) may have changed: each node with
    /// members of it online counts it once per window.
    RoomPresence,
    /// Control: the target user's membership of a room changed. On removal their
    /// sockets also leave the chat room.
    Membership { room_id: String, member: bool },
}

#[derive(Clone, Debug)]
pub struct Envelope {
    pub target: Target,
    /// Skip this user's sockets (e.g. the typer does not see their own typing).
    pub except_user: Option<String>,
    /// Skip this meeting peer's socket (the peer whose join or change it announces).
    pub except_peer: Option<String>,
    pub payload: Payload,
}

/// The backplane: local delivery, plus Redis pub/sub in cluster mode.
pub struct Backplane {
    relay: Arc<Relay>,
    redis: Option<RedisBackplane>,
}

impl Backplane {
    /// Single node: envelopes go straight to local sockets (a gap left by concurrent
    /// sends that does not fill within the hold is healed through `healing`).
    pub fn local(
        io: socketio_server::Server,
        healing: Option<Healing>,
        status: StatusOptions,
    ) -> Self {
        let (track_tx, track_rx) = tokio::sync::mpsc::unbounded_channel();
        let interest = Interest::spawn(None, track_tx);
        Backplane {
            relay: Arc::new(Relay::spawn(io, interest, track_rx, healing, status)),
            redis: None,
        }
    }

    /// Cluster mode. Also returns a Redis client for presence. What a node's sockets
    /// miss while Redis is unreachable (or a publish that never reaches this node) is
    /// healed through `healing`.
    pub async fn redis(
        io: socketio_server::Server,
        url: &str,
        prefix: &str,
        healing: Option<Healing>,
        status: StatusOptions,
    ) -> Result<(Self, fred::clients::Client), String> {
        let keys = keys::Keys::new(prefix);
        let (bp, client, subscriber) = RedisBackplane::connect(url, keys.clone()).await?;
        let (track_tx, track_rx) = tokio::sync::mpsc::unbounded_channel();
        let channels = Channels {
            client: subscriber.clone(),
            keys: keys.clone(),
        };
        let interest = Interest::spawn(Some(channels), track_tx);
        let relay = Arc::new(Relay::spawn(io, interest, track_rx, healing, status));
        redis::spawn_relay(&subscriber, keys, relay.clone());
        let backplane = Backplane {
            relay,
            redis: Some(bp),
        };
        // The gauge exists from start-up, not from the first heartbeat.
        backplane.report_redis_health();
        Ok((backplane, client))
    }

    /// Sends an envelope to every socket it targets, on every node.
    pub async fn publish(&self, env: Envelope) {
        match &self.redis {
            // Without Redis (or while it is unreachable) this node's own sockets still get it.
            Some(r) => {
                if !r.publish(&env).await {
                    metrics::counter!("classchat_backplane_local_fallback_total").increment(1);
                    self.relay.deliver(env);
                }
            }
            None => self.relay.deliver(env),
        }
    }

    /// A local socket needs `target`; returns once this node receives its traffic.
    pub async fn subscribe(&self, target: Target) {
        self.relay.interest.acquire(target).await
    }

    /// A local socket no longer needs `target`.
    pub fn unsubscribe(&self, target: Target) {
        self.relay.interest.release(target)
    }

    /// A membership changed: this node applies it at once (before the caller returns),
    /// every other node through the user's channel. A removed member's sockets leave
    /// the chat room.
    pub async fn membership_changed(&self, user_id: &str, room_id: &str, member: bool) {
        let target = Target::User(user_id.to_string());
        self.relay.apply_membership(&target, room_id, member);
        if self.redis.is_some() {
            self.publish(Envelope {
                target,
                except_user: None,
                except_peer: None,
                payload: Payload::Membership {
                    room_id: room_id.to_string(),
                    member,
                },
            })
            .await;
        }
    }

    /// Tells the contacts of `subject` (members of any of `rooms`), each once: `packet`
    /// to their sockets that take single events, `item` in the next batch of the others.
    pub async fn to_contacts(&self, subject: &str, rooms: Vec<String>, packet: Bytes, item: Bytes) {
        let id = rand::random::<u64>();
        for room in rooms {
            self.publish(Envelope {
                target: Target::Members(room),
                except_user: None,
                except_peer: None,
                payload: Payload::Contacts {
                    id,
                    subject: subject.to_string(),
                    packet: packet.clone(),
                    item: item.clone(),
                },
            })
            .await;
        }
    }

    /// The online counts of these large rooms may have changed (every node with members
    /// of them online counts them in its next window).
    pub async fn room_presence_changed(&self, rooms: Vec<String>) {
        for room in rooms {
            self.publish(Envelope {
                target: Target::Members(room),
                except_user: None,
                except_peer: None,
                payload: Payload::RoomPresence,
            })
            .await;
        }
    }

    /// The large rooms to count now (marked since the last call, with members here).
    pub fn take_dirty_rooms(&self) -> Vec<String> {
        self.relay.dirty.take()
    }

    /// Sends `packet` to every socket of this node's members of `room` (joined or not),
    /// a newer packet replacing one still waiting for the room (on the contacts lane,
    /// behind chat traffic).
    pub fn to_local_members(&self, room: &str, packet: Bytes) {
        self.relay.deliver(Envelope {
            target: Target::Members(room.to_string()),
            except_user: None,
            except_peer: None,
            payload: Payload::Contacts {
                id: rand::random::<u64>(),
                subject: String::new(),
                packet,
                item: Bytes::new(),
            },
        });
    }

    /// A socket of `user_id` opened here (`batched`: it takes status changes in
    /// batches); `rooms` are all their rooms (as loaded when the user was not yet known
    /// here). Returns once the node receives what their contacts are told.
    pub async fn socket_opened(&self, user_id: &str, rooms: Vec<String>, batched: bool) {
        for room in self.relay.members.socket_opened(user_id, rooms, batched) {
            self.relay.interest.acquire(Target::Members(room)).await;
        }
    }

    /// A socket of `user_id` closed here.
    pub fn socket_closed(&self, user_id: &str, batched: bool) {
        for room in self.relay.members.socket_closed(user_id, batched) {
            self.relay.interest.release(Target::Members(room));
        }
    }

    /// The member index of this node's users.
    pub fn members(&self) -> &members::Members {
        &self.relay.members
    }

    /// Chat rooms with at least one socket on this node.
    pub fn active_rooms(&self) -> usize {
        self.relay.interest.active_rooms()
    }

    /// Sets `classchat_redis_connected{client}` (cluster mode only).
    pub fn report_redis_health(&self) {
        if let Some(r) = &self.redis {
            let (p, s) = r.connected();
            metrics::gauge!("classchat_redis_connected", "client" => "publisher")
                .set(f64::from(u8::from(p)));
            metrics::gauge!("classchat_redis_connected", "client" => "subscriber")
                .set(f64::from(u8::from(s)));
        }
    }

    pub fn mode(&self) -> &'static str {
        if self.redis.is_some() {
            "redis"
        } else {
            "local"
        }
    }
}
