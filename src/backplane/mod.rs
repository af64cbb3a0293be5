//! Fan-out of events to sockets and presence: in-process on a single node, or through Redis
//! channels keyed by room and by user in cluster mode.

mod codec;
pub mod interest;
pub mod keys;
pub mod presence;
mod redis;
mod relay;

use std::sync::Arc;

use serde_json::Value;
use socketioxide::SocketIo;

use interest::{Channels, Interest};
pub use presence::Presence;
use redis::RedisBackplane;
use relay::Relay;

/// Where a broadcast goes: everyone in a room, or every socket of a user.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    Room(String),
    User(String),
}

impl Target {
    /// The Socket.IO room holding this target's local sockets.
    pub fn socket_room(&self) -> String {
        match self {
            Target::Room(id) => keys::room(id),
            Target::User(id) => keys::user(id),
        }
    }
}

/// What a broadcast carries.
#[derive(Clone, Debug)]
pub enum Payload {
    /// A server→client event: name and the already wrapped `{ data, timestamp }`.
    Event { name: &'static str, body: Value },
    /// Control: the target's sockets leave this chat room (a member was removed).
    LeaveRoom { room_id: String },
}

#[derive(Clone, Debug)]
pub struct Envelope {
    pub target: Target,
    /// Skip this user's sockets (e.g. the typer does not see their own typing).
    pub except_user: Option<String>,
    pub payload: Payload,
}

/// The backplane: local delivery, plus Redis pub/sub in cluster mode.
pub struct Backplane {
    relay: Arc<Relay>,
    redis: Option<RedisBackplane>,
}

impl Backplane {
    /// Single node: envelopes go straight to local sockets.
    pub fn local(io: SocketIo) -> Self {
        let interest = Interest::spawn(None);
        Backplane {
            relay: Arc::new(Relay::spawn(io, interest)),
            redis: None,
        }
    }

    /// Cluster mode. Also returns a Redis client for presence.
    pub async fn redis(
        io: SocketIo,
        url: &str,
        prefix: &str,
    ) -> Result<(Self, fred::clients::Client), String> {
        let keys = keys::Keys::new(prefix);
        let (bp, client, subscriber) = RedisBackplane::connect(url, keys.clone()).await?;
        let interest = Interest::spawn(Some(Channels {
            client: subscriber.clone(),
            keys: keys.clone(),
        }));
        let relay = Arc::new(Relay::spawn(io, interest));
        redis::spawn_relay(&subscriber, keys, relay.clone());
        Ok((
            Backplane {
                relay,
                redis: Some(bp),
            },
            client,
        ))
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

    /// A removed member's sockets leave the room: this node's at once (before the
    /// caller returns), every other node's through the user's channel.
    pub async fn remove_from_room(&self, user_id: &str, room_id: &str) {
        let target = Target::User(user_id.to_string());
        relay::leave_local(&self.relay.io, &self.relay.interest, &target, room_id);
        if self.redis.is_some() {
            self.publish(Envelope {
                target,
                except_user: None,
                payload: Payload::LeaveRoom {
                    room_id: room_id.to_string(),
                },
            })
            .await;
        }
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
