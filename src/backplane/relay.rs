//! Hands envelopes to this node's sockets, whichever backplane brought them.

use socketioxide::SocketIo;

use super::interest::Interest;
use super::{keys, Envelope, Payload, Target};

pub struct Relay {
    pub io: SocketIo,
    pub interest: Interest,
}

impl Relay {
    pub async fn deliver(&self, env: &Envelope) {
        let room = env.target.socket_room();
        match &env.payload {
            Payload::Event { name, body } => {
                let mut op = self.io.to(room.clone());
                if let Some(u) = &env.except_user {
                    op = op.except(keys::user(u));
                }
                if let Err(e) = op.emit(*name, body).await {
                    tracing::debug!(error = %e, event = name, "broadcast incomplete");
                }
                let fanout = self.io.to(room).sockets().len();
                metrics::counter!("classchat_broadcasts_total", "event" => *name).increment(1);
                metrics::histogram!("classchat_broadcast_fanout_sockets").record(fanout as f64);
            }
            Payload::LeaveRoom { room_id } => {
                // Each of the user's local sockets in that room leaves it, at once.
                let name = keys::room(room_id);
                for s in self.io.to(room).sockets() {
                    if s.rooms().iter().any(|r| *r == name) {
                        s.leave(name.clone());
                        self.interest.release(Target::Room(room_id.clone()));
                    }
                }
            }
        }
    }
}
