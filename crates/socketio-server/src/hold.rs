//! Holding a socket's room traffic for a moment: while a rejoining socket is sent what it
//! missed, live broadcasts to it wait, then follow the replay, so it sees one room's
//! messages in `seq` order (a message at the boundary may come twice; clients dedupe by
//! id). Direct sends to the socket (the replay, acks) are never held.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::out::MAX_QUEUED_PACKETS;
use super::session::{lock, SendError};
use super::socket::Socket;

/// Broadcasts held for a socket, and their bytes (bounded like any unsent output).
#[derive(Default)]
pub(crate) struct Held {
    items: Vec<(Bytes, Bytes)>,
    bytes: usize,
}

/// Broadcasts to a socket wait while this lives; dropping it sends them (see
/// `Socket::hold`).
pub struct Hold<'a>(&'a Arc<Socket>);

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl Socket {
    /// Holds broadcasts to this socket until the returned guard is dropped.
    pub fn hold(self: &Arc<Self>) -> Hold<'_> {
        let mut held = lock(&self.held);
        if held.is_none() {
            *held = Some(Held::default());
        }
        self.holding.store(true, Ordering::Release);
        Hold(self)
    }

    /// Sends what was held, then lets broadcasts through again. A broadcast racing this
    /// waits for the held ones to be written first.
    fn release(self: &Arc<Self>) {
        let mut held = lock(&self.held);
        let Some(Held { items, .. }) = held.take() else {
            return;
        };
        self.holding.store(false, Ordering::Release);
        let refs: Vec<(&Bytes, &Bytes)> = items.iter().map(|(p, f)| (p, f)).collect();
        let _ = self.session.send_many(&refs);
    }

    /// A broadcast's packets (with their frames) for this socket: held while a `Hold`
    /// lives, else sent. Too much held closes the socket, like any output that backs up.
    pub(super) fn deliver(self: &Arc<Self>, items: &[(&Bytes, &Bytes)]) -> Result<(), SendError> {
        if self.holding.load(Ordering::Acquire) {
            let mut held = lock(&self.held);
            if let Some(v) = held.as_mut() {
                let bytes: usize = items.iter().map(|(p, _)| p.len()).sum();
                v.bytes += bytes;
                if v.items.len() + items.len() > MAX_QUEUED_PACKETS
                    || v.bytes > self.session.max_buffered
                {
                    *held = None;
                    self.holding.store(false, Ordering::Release);
                    drop(held);
                    return self.session.too_slow(lock(&self.session.out));
                }
                v.items
                    .extend(items.iter().map(|(p, f)| ((*p).clone(), (*f).clone())));
                return Ok(());
            }
        }
        self.session.send_many(items)
    }
}
