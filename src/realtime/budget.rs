//! A rejoin's catch-up budget: what one `join-chat-rooms` may replay across all its
//! rooms, in messages and in encoded bytes (`CLASSCHAT_CATCHUP_MAX_MESSAGES`,
//! `CLASSCHAT_CATCHUP_MAX_BYTES`). Past it a room's catch-up stops incomplete and the
//! client pages on over REST from `nextAfter`.

use crate::domain::limits::CatchUp;

pub struct Budget {
    messages: usize,
    bytes: usize,
}

impl Budget {
    pub fn new(limit: CatchUp) -> Self {
        Budget {
            messages: limit.max_messages,
            bytes: limit.max_bytes,
        }
    }

    /// Messages still allowed (a bound for the next history query).
    pub fn messages_left(&self) -> usize {
        if self.bytes == 0 {
            0
        } else {
            self.messages
        }
    }

    /// Takes one message of `bytes`; false (nothing taken) if it does not fit.
    pub fn take(&mut self, bytes: usize) -> bool {
        if self.messages == 0 || bytes > self.bytes {
            self.bytes = 0;
            return false;
        }
        self.messages -= 1;
        self.bytes -= bytes;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_catch_up_budget_ends_at_its_messages_or_its_bytes() {
        let mut b = Budget::new(CatchUp {
            max_messages: 3,
            max_bytes: 100,
        });
        assert!(b.take(40) && b.take(40));
        assert!(!b.take(40), "over the bytes");
        assert_eq!(b.messages_left(), 0);
        let mut b = Budget::new(CatchUp {
            max_messages: 2,
            max_bytes: 1000,
        });
        assert!(b.take(1) && b.take(1) && !b.take(1));
    }
}
