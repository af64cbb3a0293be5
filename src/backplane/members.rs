//! Which rooms this node's users belong to (all their memberships, joined by a socket or
//! not), so a status change reaches the online contacts on this node without a database
//! query per change.
//!
//! A user is tracked from their first socket on this node to their last; their rooms are
//! loaded once at the first socket, then kept current by membership control messages
//! (`Payload::Membership`) on the user's channel.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use socketio_server::Server;

use super::interest::Interest;
use super::{keys, Target};

#[derive(Default)]
struct Local {
    sockets: u32,
    /// Of those, the sockets that take status changes in batches.
    batched: u32,
    rooms: HashSet<String>,
}

#[derive(Default)]
struct Index {
    users: HashMap<String, Local>,
    /// Room → this node's users who are members of it.
    rooms: HashMap<String, HashSet<String>>,
}

impl Index {
    fn link(&mut self, user: &str, room: &str) -> bool {
        let Some(local) = self.users.get_mut(user) else {
            return false;
        };
        if !local.rooms.insert(room.to_string()) {
            return false;
        }
        self.rooms
            .entry(room.to_string())
            .or_default()
            .insert(user.to_string());
        true
    }

    fn unlink(&mut self, user: &str, room: &str) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(user);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
    }
}

/// The member index; every method is synchronous and holds the lock briefly.
#[derive(Default)]
pub struct Members {
    index: Mutex<Index>,
}

impl Members {
    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the user has a socket on this node (their rooms are known here).
    pub fn is_local(&self, user: &str) -> bool {
        self.lock().users.contains_key(user)
    }

    /// A socket of `user` opened, with their rooms as loaded (merged with any membership
    /// change that arrived meanwhile). Returns the rooms newly tracked.
    pub fn socket_opened(&self, user: &str, rooms: Vec<String>, batched: bool) -> Vec<String> {
        let mut ix = self.lock();
        let local = ix.users.entry(user.to_string()).or_default();
        local.sockets += 1;
        local.batched += u32::from(batched);
        rooms.into_iter().filter(|r| ix.link(user, r)).collect()
    }

    /// A socket of `user` closed; at the last one, the rooms no longer tracked.
    pub fn socket_closed(&self, user: &str, batched: bool) -> Vec<String> {
        let mut ix = self.lock();
        let Some(local) = ix.users.get_mut(user) else {
            return Vec::new();
        };
        local.sockets = local.sockets.saturating_sub(1);
        local.batched = local.batched.saturating_sub(u32::from(batched));
        if local.sockets > 0 {
            return Vec::new();
        }
        let rooms: Vec<String> = ix
            .users
            .remove(user)
            .map(|l| l.rooms.into_iter().collect())
            .unwrap_or_default();
        for r in &rooms {
            ix.unlink(user, r);
        }
        rooms
    }

    /// A local user became a member of `room`; true if that is news here.
    pub fn joined(&self, user: &str, room: &str) -> bool {
        self.lock().link(user, room)
    }

    /// A local user is no longer a member of `room`; true if it was tracked.
    pub fn left(&self, user: &str, room: &str) -> bool {
        let mut ix = self.lock();
        let had = ix.users.get_mut(user).is_some_and(|l| l.rooms.remove(room));
        if had {
            ix.unlink(user, room);
        }
        had
    }

    /// The rooms of a local user (`None` if the user has no socket here).
    pub fn rooms_of(&self, user: &str) -> Option<Vec<String>> {
        self.lock()
            .users
            .get(user)
            .map(|l| l.rooms.iter().cloned().collect())
    }

    /// Local members of `room` but `subject` not in `told` yet; they are added to it.
    /// Linear in the room's local members.
    pub fn contacts_in(
        &self,
        room: &str,
        subject: &str,
        told: &mut HashSet<String>,
    ) -> Vec<String> {
        let ix = self.lock();
        let Some(members) = ix.rooms.get(room) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for u in members {
            if u != subject && !told.contains(u) {
                told.insert(u.clone());
                out.push(u.clone());
            }
        }
        out
    }

    /// How each user takes status changes here: (some socket takes single events, some
    /// socket takes batches).
    pub fn modes(&self, users: &[String]) -> Vec<(bool, bool)> {
        let ix = self.lock();
        users
            .iter()
            .map(|u| match ix.users.get(u) {
                Some(l) => (l.sockets > l.batched, l.batched > 0),
                None => (false, false),
            })
            .collect()
    }

    /// This node's users who are members of `room`.
    pub fn local_members(&self, room: &str) -> Vec<String> {
        let ix = self.lock();
        ix.rooms
            .get(room)
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether some local user is a member of `room`.
    pub fn has_room(&self, room: &str) -> bool {
        self.lock().rooms.contains_key(room)
    }

    /// Users with a socket on this node.
    pub fn local_users(&self) -> usize {
        self.lock().users.len()
    }
}

/// A membership change for the target user's local sockets: the member index follows
/// it, and on removal the sockets leave the chat room at once.
pub fn apply_membership(
    io: &Server,
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
    for conn in io.members(&target.socket_room()) {
        if io.leave(&conn, &name) {
            interest.release(Target::Room(room_id.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }

    #[test]
    fn a_user_is_tracked_from_the_first_socket_to_the_last() {
        let m = Members::default();
        assert_eq!(
            sorted(m.socket_opened("a", ids(&["r1", "r2"]), false)),
            ids(&["r1", "r2"])
        );
        assert!(m.socket_opened("a", ids(&["r1", "r2"]), false).is_empty());
        assert!(m.socket_closed("a", false).is_empty());
        assert!(m.is_local("a"));
        assert_eq!(sorted(m.socket_closed("a", false)), ids(&["r1", "r2"]));
        assert!(!m.is_local("a"));
        assert!(m.contacts_in("r1", "x", &mut HashSet::new()).is_empty());
    }

    #[test]
    fn each_users_sockets_are_known_as_single_or_batched() {
        let m = Members::default();
        m.socket_opened("a", vec![], true);
        m.socket_opened("b", vec![], false);
        m.socket_opened("b", vec![], true);
        assert_eq!(
            m.modes(&ids(&["a", "b", "c"])),
            vec![(false, true), (true, true), (false, false)]
        );
        m.socket_closed("b", true);
        assert_eq!(m.modes(&ids(&["b"])), vec![(true, false)]);
    }

    #[test]
    fn contacts_skip_the_subject_and_members_already_told() {
        let m = Members::default();
        m.socket_opened("a", ids(&["r1", "r2"]), false);
        m.socket_opened("b", ids(&["r2"]), false);
        m.socket_opened("c", ids(&["r1"]), false);
        let mut told = HashSet::new();
        assert_eq!(sorted(m.contacts_in("r1", "c", &mut told)), ids(&["a"]));
        assert_eq!(m.contacts_in("r2", "c", &mut told), ids(&["b"]));
    }

    #[test]
    fn membership_changes_apply_to_local_users_only() {
        let m = Members::default();
        assert!(!m.joined("a", "r1"));
        m.socket_opened("a", vec![], false);
        assert!(m.joined("a", "r1"));
        assert!(!m.joined("a", "r1"));
        assert_eq!(m.contacts_in("r1", "z", &mut HashSet::new()), ids(&["a"]));
        assert!(m.left("a", "r1"));
        assert!(!m.left("a", "r1"));
        assert!(m.contacts_in("r1", "z", &mut HashSet::new()).is_empty());
    }
}
