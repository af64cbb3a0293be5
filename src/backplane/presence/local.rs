//! Single-node presence: sockets per user (multi-tab counting) and the status they chose.

use dashmap::DashMap;

use crate::domain::Status;

#[derive(Clone, Copy, Debug)]
struct Entry {
    sockets: u32,
    chosen: Status,
}

use super::StatusChange;

/// In-process presence (single node). Cluster mode keeps the same counts in Redis.
#[derive(Default)]
pub struct LocalPresence {
    users: DashMap<String, Entry>,
}

impl LocalPresence {
    pub fn new() -> Self {
        Self::default()
    }

    /// A socket of this user connected; `Some` when the user just came online.
    pub fn connect(&self, user_id: &str) -> Option<StatusChange> {
        let mut e = self.users.entry(user_id.to_string()).or_insert(Entry {
            sockets: 0,
            chosen: Status::Online,
        });
        e.sockets += 1;
        (e.sockets == 1 && e.chosen != Status::Offline).then_some(StatusChange { status: e.chosen })
    }

    /// A socket of this user went away; `Some` when that was their last one.
    pub fn disconnect(&self, user_id: &str) -> Option<StatusChange> {
        let mut last = false;
        let mut visible = false;
        if let Some(mut e) = self.users.get_mut(user_id) {
            e.sockets = e.sockets.saturating_sub(1);
            last = e.sockets == 0;
            visible = e.chosen != Status::Offline;
        }
        if last {
            // Keep the chosen status only while connected: a new session starts online.
            self.users.remove_if(user_id, |_, e| e.sockets == 0);
        }
        (last && visible).then_some(StatusChange {
            status: Status::Offline,
        })
    }

    /// The user chose a status; `Some` when what others see changed.
    pub fn set_status(&self, user_id: &str, status: Status) -> Option<StatusChange> {
        let mut e = self.users.get_mut(user_id)?;
        if e.sockets == 0 {
            return None;
        }
        let before = e.chosen;
        e.chosen = status;
        (before != status).then_some(StatusChange { status })
    }

    /// The status others see: the chosen one while connected, else offline.
    pub fn status_of(&self, user_id: &str) -> Status {
        match self.users.get(user_id) {
            Some(e) if e.sockets > 0 => e.chosen,
            _ => Status::Offline,
        }
    }

    pub fn is_connected(&self, user_id: &str) -> bool {
        self.users.get(user_id).is_some_and(|e| e.sockets > 0)
    }

    /// Users with at least one socket (a user's entry goes with their last socket).
    pub fn online_users(&self) -> usize {
        self.users.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_online_until_the_last_tab_closes() {
        let p = LocalPresence::new();
        assert!(p.connect("a").is_some());
        assert!(p.connect("a").is_none());
        assert!(p.disconnect("a").is_none());
        assert_eq!(p.status_of("a"), Status::Online);
        assert_eq!(
            p.disconnect("a"),
            Some(StatusChange {
                status: Status::Offline
            })
        );
        assert_eq!(p.status_of("a"), Status::Offline);
    }

    #[test]
    fn chosen_status_persists_while_connected() {
        let p = LocalPresence::new();
        p.connect("a");
        assert_eq!(
            p.set_status("a", Status::Busy),
            Some(StatusChange {
                status: Status::Busy
            })
        );
        assert_eq!(p.set_status("a", Status::Busy), None);
        p.connect("a");
        assert_eq!(p.status_of("a"), Status::Busy);
    }
}
