//! What bounds a port's connections: a process-wide connection limit shared by every
//! port served with `serve_with` (a connection over it is refused at accept, with a 503),
//! and the number of Engine.IO sessions per client address that have not connected to a
//! namespace yet (unauthenticated handshakes).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use dashmap::DashMap;

/// A request extension naming the client's address (set by the application when a
/// trusted proxy forwards it); without it the TCP peer's address counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// The address a request is counted under.
pub(crate) fn address_of(parts: &axum::http::request::Parts) -> Option<IpAddr> {
    if let Some(a) = parts.extensions.get::<ClientAddress>() {
        return Some(a.0);
    }
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Connections open at most, across every port that shares it.
pub struct ConnectionLimit {
    max: usize,
    open: AtomicUsize,
    refused: metrics::Counter,
}

impl ConnectionLimit {
    /// `refused` counts the connections refused at accept.
    pub fn new(max: usize, refused: metrics::Counter) -> Arc<Self> {
        Arc::new(ConnectionLimit {
            max,
            open: AtomicUsize::new(0),
            refused,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// A place for one more connection, or None (counted as refused).
    pub(crate) fn acquire(self: &Arc<Self>) -> Option<Permit> {
        let taken = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            });
        if taken.is_err() {
            self.refused.increment(1);
            return None;
        }
        Some(Permit(self.clone()))
    }
}

/// One open connection; dropping it frees its place. It travels with the TCP socket
/// when a WebSocket upgrade takes it over.
pub(crate) struct Permit(Arc<ConnectionLimit>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Sessions not yet connected to a namespace, per client address.
#[derive(Default)]
pub(crate) struct PendingByAddress {
    counts: DashMap<IpAddr, usize>,
}

/// One pending session; dropping it (its socket connected, or the session ended) frees
/// its place.
pub(crate) struct Pending {
    of: Weak<PendingByAddress>,
    addr: IpAddr,
}

impl PendingByAddress {
    /// A place for one more pending session of `addr`, or None if it has `max` already.
    pub fn admit(self: &Arc<Self>, addr: IpAddr, max: usize) -> Option<Pending> {
        let mut n = self.counts.entry(addr).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Pending {
            of: Arc::downgrade(self),
            addr,
        })
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(of) = self.of.upgrade() {
            of.counts.remove_if_mut(&self.addr, |_, n| {
                *n -= 1;
                *n == 0
            });
        }
    }
}

impl super::Server {
    /// A place for one more session not yet connected, for the client of `parts`
    /// (`Ok(None)`: no limit applies); `Err` (counted) if its address has too many.
    pub(crate) fn admit(&self, parts: &axum::http::request::Parts) -> Result<Option<Pending>, ()> {
        let max = self.config().max_pending_per_address;
        let Some(addr) = address_of(parts).filter(|_| max > 0) else {
            return Ok(None);
        };
        match self.inner.pending.admit(addr, max) {
            Some(p) => Ok(Some(p)),
            None => {
                self.inner.metrics.handshakes_refused.increment(1);
                Err(())
            }
        }
    }
}
