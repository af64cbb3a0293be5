//! In-process backplane: an envelope goes straight to this node's sockets.

use socketioxide::SocketIo;

use super::{keys, Envelope, Payload};

pub struct LocalBackplane {
    io: SocketIo,
}

impl LocalBackplane {
    pub fn new(io: SocketIo) -> Self {
        LocalBackplane { io }
    }

    /// Delivers to the local sockets the envelope targets.
    pub async fn deliver(&self, env: &Envelope) {
        deliver_local(&self.io, env).await
    }
}

/// Hands an envelope to this node's sockets. Shared by every backplane: the
/// Redis one calls it for what it receives.
pub async fn deliver_local(io: &SocketIo, env: &Envelope) {
    let room = env.target.socket_room();
    match &env.payload {
        Payload::Event { name, body } => {
            let mut op = io.to(room.clone());
            if let Some(u) = &env.except_user {
                op = op.except(keys::user(u));
            }
            if let Err(e) = op.emit(*name, body).await {
                tracing::debug!(error = %e, event = name, "broadcast incomplete");
            }
            let fanout = io.to(room).sockets().len();
            metrics::counter!("classchat_broadcasts_total", "event" => *name).increment(1);
            metrics::histogram!("classchat_broadcast_fanout_sockets").record(fanout as f64);
        }
        Payload::LeaveRoom { room_id } => {
            if let Err(e) = io.to(room).leave(keys::room(room_id)).await {
                tracing::debug!(error = %e, "leave broadcast incomplete");
            }
        }
    }
}
