//! What the relay needs from the database to heal what live delivery missed: a room's
//! messages in a `seq` range, as the packets live delivery would have carried, and the
//! rooms' head `seq`. Implemented above the backplane (which imports no storage) and
//! handed to it at start.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;

/// A message read back for healing: its `seq` and its encoded `new-chat-message` packet.
pub type Missed = (i64, Bytes);

/// Read access to what the database holds, for the relay.
pub trait History: Send + Sync + 'static {
    /// The messages of `room` with `after < seq <= upto`, oldest first, at most `limit`.
    fn messages(
        &self,
        room: String,
        after: i64,
        upto: i64,
        limit: u32,
    ) -> BoxFuture<'static, Result<Vec<Missed>, String>>;

    /// The head `seq` (the last allocated one) of each of `rooms` that exists.
    fn heads(&self, rooms: Vec<String>) -> BoxFuture<'static, Result<Vec<(String, i64)>, String>>;
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
