//! Reassembling a binary packet: its text announces N attachments, and the next N binary
//! messages of the session are them. Nothing else may come in between, and what they
//! add up to is bounded, so a client cannot make the server hold unbounded data.

use std::sync::Arc;

use bytes::Bytes;

use super::event::Event;
use super::socket::Socket;

/// What waits for its attachments.
pub(crate) enum Waiting {
    Event {
        socket: Arc<Socket>,
        event: Event,
    },
    /// An ack from the client: the server asks for none, so it is dropped when whole.
    Ack,
}

pub(crate) struct Partial {
    what: Waiting,
    need: usize,
    parts: Vec<Bytes>,
    bytes: usize,
}

/// Why an attachment was refused (the session closes).
#[derive(Debug, PartialEq)]
pub(crate) struct TooLarge;

impl Partial {
    pub fn new(what: Waiting, need: usize) -> Partial {
        Partial {
            what,
            need,
            parts: Vec::with_capacity(need),
            bytes: 0,
        }
    }

    /// Adds the next attachment; true once all have come. `max_bytes` bounds them all
    /// together.
    pub fn add(&mut self, data: Bytes, max_bytes: usize) -> Result<bool, TooLarge> {
        self.bytes += data.len();
        if self.bytes > max_bytes {
            return Err(TooLarge);
        }
        self.parts.push(data);
        Ok(self.parts.len() >= self.need)
    }

    /// The packet, with its attachments in place.
    pub fn finish(self) -> Waiting {
        match self.what {
            Waiting::Event { socket, mut event } => {
                event.set_attachments(self.parts);
                Waiting::Event { socket, event }
            }
            Waiting::Ack => Waiting::Ack,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_are_counted_and_bounded_together() {
        let mut p = Partial::new(Waiting::Ack, 2);
        assert_eq!(p.add(Bytes::from_static(&[0; 6]), 10), Ok(false));
        assert_eq!(p.add(Bytes::from_static(&[0; 5]), 10), Err(TooLarge));
        let mut p = Partial::new(Waiting::Ack, 2);
        assert_eq!(p.add(Bytes::from_static(&[0; 5]), 10), Ok(false));
        assert_eq!(p.add(Bytes::from_static(&[0; 5]), 10), Ok(true));
    }
}
