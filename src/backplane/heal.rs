//! What the relay needs from the database to heal what live delivery missed: a room's
//! messages in a `seq` range, as the packets live delivery would have carried, and the
//! rooms' head `seq`. Implemented above the backplane (which imports no storage) and
//! handed to it at start.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use super::Seq;

/// A message (or change) read back for healing: its `seq` (or change `seq`) and its
/// encoded packet (`new-chat-message`, `chat-message-deleted`).
pub type Missed = (i64, Bytes);

/// One of a room's ordered streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    Messages,
    Changes,
}

impl Stream {
    pub const BOTH: [Stream; 2] = [Stream::Messages, Stream::Changes];

    pub fn seq(self, n: i64) -> Seq {
        match self {
            Stream::Messages => Seq::Message(n),
            Stream::Changes => Seq::Change(n),
        }
    }
}

/// A room's heads: last message `seq` and last change `seq`.
pub type Heads = (i64, i64);

pub fn pick(heads: Heads, stream: Stream) -> i64 {
    match stream {
        Stream::Messages => heads.0,
        Stream::Changes => heads.1,
    }
}

/// A range of a room's messages (or changes) to read from the database.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub room: String,
    pub stream: Stream,
    pub after: i64,
    pub upto: i64,
    pub reason: Reason,
}

/// Read access to what the database holds, for the relay.
pub trait History: Send + Sync + 'static {
    /// What `room` holds in `stream` with `after < seq <= upto` (messages by `seq`,
    /// deletions by change `seq`), oldest first, at most `limit`.
    fn missed(
        &self,
        stream: Stream,
        room: String,
        after: i64,
        upto: i64,
        limit: u32,
    ) -> BoxFuture<'static, Result<Vec<Missed>, String>>;

    /// The heads (last message `seq`, last change `seq`) of each of `rooms` that exists.
    fn heads(&self, rooms: Vec<String>)
        -> BoxFuture<'static, Result<Vec<(String, Heads)>, String>>;
}

/// How the relay heals.
#[derive(Clone)]
pub struct Healing {
    pub history: Arc<dyn History>,
    /// Most messages per read.
    pub page: u32,
    /// How often rooms' heads are compared with what was delivered (`None`: never).
    pub audit: Option<Duration>,
}

/// Rooms per head read.
pub const HEADS_CHUNK: usize = 500;

/// Why a heal ran: the label of `classchat_relay_healed_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// A held-back message's predecessor did not come within the hold.
    Gap,
    /// The backplane subscription came back after an outage.
    Resubscribe,
    /// A message stored before the previous audit had still not been delivered.
    Audit,
}

impl Reason {
    pub const ALL: [Reason; 3] = [Reason::Gap, Reason::Resubscribe, Reason::Audit];

    pub fn label(self) -> &'static str {
        match self {
            Reason::Gap => "gap",
            Reason::Resubscribe => "resubscribe",
            Reason::Audit => "audit",
        }
    }
}

/// Describes the relay's ordering and healing metrics.
pub fn describe_metrics() {
    use metrics::describe_counter;
    describe_counter!(
        "classchat_relay_healed_total",
        "Messages this node read from the database and delivered because live delivery missed them, by reason (gap, resubscribe, audit)"
    );
    describe_counter!(
        "classchat_relay_gaps_total",
        "Gaps delivered as they were: the database read that should have filled them failed or found nothing"
    );
    describe_counter!(
        "classchat_relay_heal_errors_total",
        "Healing reads (messages or rooms' heads) that failed"
    );
    describe_counter!(
        "classchat_relay_duplicates_total",
        "Live messages dropped because this node had already delivered them (healed before they came)"
    );
    describe_counter!(
        "classchat_relay_reordered_total",
        "Messages held back until their predecessor arrived"
    );
}

/// The relay's series start at zero.
pub fn zero_metrics() {
    for reason in Reason::ALL {
        metrics::counter!("classchat_relay_healed_total", "reason" => reason.label()).increment(0);
    }
    for name in [
        "classchat_relay_gaps_total",
        "classchat_relay_heal_errors_total",
        "classchat_relay_duplicates_total",
        "classchat_relay_reordered_total",
    ] {
        metrics::counter!(name).increment(0);
    }
}
