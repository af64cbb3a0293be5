//! Who is online and with which status: in-process on one node, in Redis across a cluster.

mod local;
mod nodes;
mod redis;
mod scripts;

pub use local::LocalPresence;
pub use redis::RedisPresence;

use crate::domain::Status;

/// A change of the status others see, to announce to contacts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusChange {
    pub status: Status,
}

pub enum Presence {
    Local(LocalPresence),
    Redis(RedisPresence),
}

impl Presence {
    /// A socket of this user connected; `Some` when others should now see them online.
    pub async fn connect(&self, user_id: &str) -> Option<StatusChange> {
        match self {
            Presence::Local(p) => p.connect(user_id),
            Presence::Redis(p) => p.connect(user_id).await,
        }
    }

    /// A socket went away. `(offline, change)`: whether that was the user's last socket
    /// anywhere, and the change to announce if others could see them.
    pub async fn disconnect(&self, user_id: &str) -> (bool, Option<StatusChange>) {
        match self {
            Presence::Local(p) => {
                let change = p.disconnect(user_id);
                (!p.is_connected(user_id), change)
            }
            Presence::Redis(p) => p.disconnect(user_id).await,
        }
    }

    /// The user chose a status; `Some` when what others see changed.
    pub async fn set_status(&self, user_id: &str, status: Status) -> Option<StatusChange> {
        match self {
            Presence::Local(p) => {
                let before = p.status_of(user_id);
                p.set_status(user_id, status)?;
                let after = p.status_of(user_id);
                (before != after).then_some(StatusChange { status: after })
            }
            Presence::Redis(p) => p.set_status(user_id, status).await,
        }
    }

    /// `(connected, status others see)` per user, in order.
    pub async fn states(&self, user_ids: &[String]) -> Vec<(bool, Status)> {
        match self {
            Presence::Local(p) => user_ids
                .iter()
                .map(|u| (p.is_connected(u), p.status_of(u)))
                .collect(),
            Presence::Redis(p) => p.states(user_ids).await,
        }
    }

    pub async fn state(&self, user_id: &str) -> (bool, Status) {
        let v = self
            .states(std::slice::from_ref(&user_id.to_string()))
            .await;
        v.first().copied().unwrap_or((false, Status::Offline))
    }

    /// Users with at least one socket, cluster-wide.
    pub async fn online_users(&self) -> usize {
        match self {
            Presence::Local(p) => p.online_users(),
            Presence::Redis(p) => p.online_users().await,
        }
    }
}
