//! Fan-out of events to sockets (in-process now; Redis channels keyed by room and user in
//! cluster mode) and presence.

pub mod keys;
mod local;
pub mod presence;

use std::sync::Arc;

use serde_json::Value;
use socketioxide::SocketIo;

pub use local::LocalBackplane;
pub use presence::Presence;

/// Where a broadcast goes: everyone in a room, or every socket of a user.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    Room(String),
    User(String),
}

impl Target {
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

/// The backplane in use. Cluster mode adds a Redis variant beside the local one.
#[derive(Clone)]
pub enum Backplane {
    Local(Arc<LocalBackplane>),
}

impl Backplane {
    pub fn local(io: SocketIo) -> Self {
        Backplane::Local(Arc::new(LocalBackplane::new(io)))
    }

    /// Sends an envelope to every socket it targets, on every node.
    pub async fn publish(&self, env: Envelope) {
        match self {
            Backplane::Local(b) => b.deliver(&env).await,
        }
    }

    /// Starts routing a target's traffic to this node; returns once that holds.
    pub async fn subscribe(&self, _target: &Target) {}

    /// Stops routing a target's traffic to this node.
    pub async fn unsubscribe(&self, _target: &Target) {}

    pub fn mode(&self) -> &'static str {
        match self {
            Backplane::Local(_) => "local",
        }
    }
}
