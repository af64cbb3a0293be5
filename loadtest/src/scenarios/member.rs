//! A fanout member's accounting, run on its own socket's task: which `seq`s arrived
//! (to count lost, duplicated and out-of-order deliveries) and each one's latency.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use crate::sio::OnEvent;
use crate::stats::{now_micros, Stats};

/// What one receiver saw: its room, and a bitmap of the seqs that arrived.
pub struct Seen {
    pub room: usize,
    pub bits: Vec<u64>,
}

pub fn mark(bits: &mut Vec<u64>, seq: usize) -> bool {
    let (w, b) = (seq / 64, seq % 64);
    if bits.len() <= w {
        bits.resize(w + 1, 0);
    }
    let had = bits[w] & (1 << b) != 0;
    bits[w] |= 1 << b;
    had
}

pub fn has(bits: &[u64], seq: usize) -> bool {
    bits.get(seq / 64)
        .is_some_and(|w| w & (1 << (seq % 64)) != 0)
}

/// `["new-chat-message",{"data":{…,"seq":…,"content":"t=…",…},…}]`, reading only what
/// the accounting needs.
#[derive(Deserialize)]
struct Packet<'a>(serde::de::IgnoredAny, #[serde(borrow)] Body<'a>);

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    data: Msg<'a>,
}

#[derive(Deserialize)]
struct Msg<'a> {
    seq: usize,
    #[serde(borrow)]
    content: std::borrow::Cow<'a, str>,
}

/// One member's accounting, run on its socket's task; hands its `Seen` over when the
/// socket closes.
pub struct Member {
    open: bool,
    last: usize,
    k: usize,
    seen: Option<Seen>,
    st: Arc<Stats>,
    out: Arc<Mutex<Vec<Seen>>>,
}

impl OnEvent for Member {
    fn on_open(&mut self) {
        self.open = true;
    }

    fn on_event(&mut self, packet: &str) {
        if !packet.starts_with("[\"new-chat-message\",") {
            return;
        }
        let Ok(Packet(_, Body { data })) = serde_json::from_str::<Packet>(packet) else {
            return;
        };
        let Some(seen) = self.seen.as_mut() else {
            return;
        };
        if mark(&mut seen.bits, data.seq) {
            self.st.duplicated.fetch_add(1, Relaxed);
            return;
        }
        if data.seq < self.last {
            self.st.out_of_order.fetch_add(1, Relaxed);
        }
        self.last = self.last.max(data.seq);
        let sent = data
            .content
            .strip_prefix("t=")
            .and_then(|t| t.parse::<u64>().ok());
        self.st
            .record(self.k, sent.map_or(0, |t| now_micros().saturating_sub(t)));
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some(seen) = self.seen.take().filter(|_| self.open) {
            self.out
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(seen);
        }
    }
}

impl Member {
    /// Member `k` of room `room`; hands what it saw to `out` when its socket closes.
    pub fn new(k: usize, room: usize, st: Arc<Stats>, out: Arc<Mutex<Vec<Seen>>>) -> Self {
        Member {
            open: false,
            last: 0,
            k,
            seen: Some(Seen {
                room,
                bits: Vec::new(),
            }),
            st,
            out,
        }
    }
}
