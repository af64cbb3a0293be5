//! Status changes on their way to this node's sockets, per recipient: sockets that opted
//! into batches get one packet per window holding each subject's latest state (a state
//! superseded within the window is never written); and the large rooms whose online
//! count changed, for the service to count once per window.
//!
//! The items and the batch packet are opaque here: the service gives the encoder.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

/// Builds one batch packet from the items of one recipient (each a subject's state).
pub type BatchEncoder = Arc<dyn Fn(Vec<Bytes>) -> Bytes + Send + Sync>;

/// How status changes reach sockets.
#[derive(Clone)]
pub struct StatusOptions {
    /// One batch per recipient at most per window; large rooms counted once per window.
    pub window: Duration,
    pub encode_batch: BatchEncoder,
}

impl StatusOptions {
    /// Batches of raw items in a JSON array (tests and tools).
    pub fn plain(window: Duration) -> Self {
        StatusOptions {
            window,
            encode_batch: Arc::new(|items: Vec<Bytes>| {
                let mut out = b"[".to_vec();
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(it);
                }
                out.push(b']');
                Bytes::from(out)
            }),
        }
    }
}

/// Subjects per recipient at most before the recipient's batch goes out early.
const MAX_ITEMS: usize = 4096;

/// Pending batches: recipient → subject → latest item.
#[derive(Default)]
pub struct Batches {
    pending: HashMap<String, HashMap<String, Bytes>>,
}

impl Batches {
    /// Adds a subject's state for a recipient, replacing one still waiting (counted as
    /// coalesced). A recipient whose batch is full is returned with its items, to send now.
    pub fn add(&mut self, recipient: &str, subject: &str, item: Bytes) -> Option<Vec<Bytes>> {
        let items = self.pending.entry(recipient.to_string()).or_default();
        if items.insert(subject.to_string(), item).is_some() {
            metrics::counter!("classchat_status_coalesced_total").increment(1);
        }
        if items.len() >= MAX_ITEMS {
            return self
                .pending
                .remove(recipient)
                .map(|m| m.into_values().collect());
        }
        None
    }

    /// Every pending batch: (recipient, items).
    pub fn take(&mut self) -> Vec<(String, Vec<Bytes>)> {
        self.pending
            .drain()
            .map(|(r, m)| (r, m.into_values().collect()))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

/// Large rooms with local members whose online count may have changed.
#[derive(Clone, Default)]
pub struct DirtyRooms(Arc<Mutex<HashSet<String>>>);

impl DirtyRooms {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn mark(&self, room: &str) {
        let mut set = self.lock();
        if !set.contains(room) {
            set.insert(room.to_string());
        }
    }

    /// The rooms marked since the last call.
    pub fn take(&self) -> Vec<String> {
        self.lock().drain().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_keeps_each_subjects_latest_state_once() {
        let mut b = Batches::default();
        assert!(b.add("r", "s1", Bytes::from_static(b"1")).is_none());
        assert!(b.add("r", "s1", Bytes::from_static(b"2")).is_none());
        assert!(b.add("r", "s2", Bytes::from_static(b"3")).is_none());
        let mut got = b.take();
        assert_eq!(got.len(), 1);
        got[0].1.sort();
        assert_eq!(
            got[0].1,
            vec![Bytes::from_static(b"2"), Bytes::from_static(b"3")]
        );
        assert!(b.is_empty());
    }

    #[test]
    fn a_full_batch_goes_out_early() {
        let mut b = Batches::default();
        let mut early = None;
        for i in 0..MAX_ITEMS {
            early = b.add("r", &i.to_string(), Bytes::from_static(b"x"));
        }
        assert_eq!(early.map(|v| v.len()), Some(MAX_ITEMS));
        assert!(b.is_empty());
    }

    #[test]
    fn dirty_rooms_are_taken_once() {
        let d = DirtyRooms::default();
        d.mark("a");
        d.mark("a");
        d.mark("b");
        let mut got = d.take();
        got.sort();
        assert_eq!(got, vec!["a".to_string(), "b".to_string()]);
        assert!(d.take().is_empty());
    }
}
