//! Coalesced status announcements: at most one announcement of a user is in flight; the
//! changes made meanwhile keep only the latest, sent when the one in flight is done. A
//! burst of changes by one user costs one fan-out plus one for its final state, and this
//! map holds at most one pending state per user.

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use crate::domain::Status;

/// A state to announce: the status contacts see, and the last seen sent with it.
pub type State = (Status, Option<i64>);

/// Users with an announcement in flight, and the latest state waiting behind it.
#[derive(Default)]
pub struct Announcements {
    slots: DashMap<String, Option<State>>,
}

impl Announcements {
    /// Takes the user's turn: `Some` if nothing was in flight (the caller announces, then
    /// asks [`Turn::next`] for what came in meanwhile); `None` if `state` now waits
    /// behind the announcement in flight, replacing any state waiting before it.
    pub fn claim(&self, user_id: &str) -> Option<Turn<'_>> {
        match self.slots.entry(user_id.to_string()) {
            Entry::Occupied(_) => None,
            Entry::Vacant(e) => {
                e.insert(None);
                Some(Turn {
                    slots: &self.slots,
                    user_id: user_id.to_string(),
                    done: false,
                })
            }
        }
    }

    /// Queues `state` behind the announcement in flight (the latest wins); false if
    /// none is in flight any more (the caller then claims a turn itself).
    pub fn queue(&self, user_id: &str, state: State) -> bool {
        match self.slots.get_mut(user_id) {
            Some(mut slot) => {
                *slot = Some(state);
                true
            }
            None => false,
        }
    }

    /// Users with an announcement in flight.
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.slots.len()
    }
}

/// The turn of the caller announcing a user's state; dropping it (even mid-way, when the
/// request is cancelled) frees the slot.
pub struct Turn<'a> {
    slots: &'a DashMap<String, Option<State>>,
    user_id: String,
    done: bool,
}

impl Turn<'_> {
    /// The latest state queued while the previous one went out, or `None` (the turn ends).
    pub fn next(&mut self) -> Option<State> {
        match self.slots.entry(self.user_id.clone()) {
            Entry::Occupied(mut e) => match e.get_mut().take() {
                Some(state) => Some(state),
                None => {
                    e.remove();
                    self.done = true;
                    None
                }
            },
            Entry::Vacant(_) => {
                self.done = true;
                None
            }
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.slots.remove(&self.user_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_during_an_announcement_keep_only_the_latest() {
        let a = Announcements::default();
        let mut turn = a.claim("u").expect("first claim");
        assert!(a.claim("u").is_none());
        assert!(a.queue("u", (Status::Away, None)));
        assert!(a.queue("u", (Status::Busy, None)));
        assert_eq!(turn.next(), Some((Status::Busy, None)));
        assert_eq!(turn.next(), None);
        assert_eq!(a.in_flight(), 0);
        assert!(!a.queue("u", (Status::Online, None)));
    }

    #[test]
    fn a_dropped_turn_frees_the_user() {
        let a = Announcements::default();
        drop(a.claim("u"));
        assert_eq!(a.in_flight(), 0);
        assert!(a.claim("u").is_some());
    }
}
