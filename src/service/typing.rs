//! Typing indicators' server-side auto-stop: `isTyping: false` after a quiet period.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;

/// One timer generation per (room, user); a newer `isTyping: true` supersedes the old timer.
pub struct TypingTimers {
    pub timeout: Duration,
    generations: DashMap<(String, String), u64>,
    next: AtomicU64,
}

impl TypingTimers {
    pub fn new(timeout: Duration) -> Self {
        TypingTimers {
            timeout,
            generations: DashMap::new(),
            next: AtomicU64::new(1),
        }
    }

    /// Starts (or restarts) the timer; returns its generation.
    pub fn start(&self, room_id: &str, user_id: &str) -> u64 {
        let g = self.next.fetch_add(1, Ordering::Relaxed);
        self.generations
            .insert((room_id.to_string(), user_id.to_string()), g);
        g
    }

    /// Stops typing explicitly; true if the user was typing.
    pub fn stop(&self, room_id: &str, user_id: &str) -> bool {
        self.generations
            .remove(&(room_id.to_string(), user_id.to_string()))
            .is_some()
    }

    /// When a timer fires: true (and forgotten) if it is still the current one.
    pub fn expire(&self, room_id: &str, user_id: &str, generation: u64) -> bool {
        self.generations
            .remove_if(&(room_id.to_string(), user_id.to_string()), |_, g| {
                *g == generation
            })
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_start_supersedes_the_old_timer() {
        let t = TypingTimers::new(Duration::from_secs(3));
        let g1 = t.start("r", "u");
        let g2 = t.start("r", "u");
        assert!(!t.expire("r", "u", g1));
        assert!(t.expire("r", "u", g2));
        assert!(!t.stop("r", "u"));
    }
}
