//! Who is in each room's running meeting, with their media state: in process on one
//! node, in Redis across a cluster (where a dead node's peers are dropped by the node
//! that sweeps it, within the presence TTL).

mod local;
mod redis;
mod scripts;

use serde::{Deserialize, Serialize};

pub use local::LocalMeetings;
pub use redis::RedisMeetings;

use crate::domain::meeting::{MediaPatch, Participant};

/// One peer of a meeting as stored: the participant and the node its socket is on.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PeerRecord {
    pub peer_id: String,
    pub user_id: String,
    pub name: Option<String>,
    pub joined_at: i64,
    pub audio: bool,
    pub video: bool,
    pub screen: bool,
    pub hand_raised: bool,
    pub node: String,
}

impl PeerRecord {
    pub fn participant(&self) -> Participant {
        Participant {
            peer_id: self.peer_id.clone(),
            user_id: self.user_id.clone(),
            name: self.name.clone(),
            joined_at: self.joined_at,
            audio: self.audio,
            video: self.video,
            screen: self.screen,
            hand_raised: self.hand_raised,
        }
    }

    fn apply(&mut self, patch: &MediaPatch) {
        let set = |f: &mut bool, v: Option<bool>| *f = v.unwrap_or(*f);
        set(&mut self.audio, patch.audio);
        set(&mut self.video, patch.video);
        set(&mut self.screen, patch.screen);
        set(&mut self.hand_raised, patch.hand_raised);
    }
}

/// A join asked of the store.
pub struct JoinRequest<'a> {
    pub room_id: &'a str,
    pub meeting_id: &'a str,
    pub peer: PeerRecord,
    pub max: usize,
    /// Hosts join locked meetings.
    pub host: bool,
    pub now: i64,
}

/// What came of a join.
#[derive(Debug, PartialEq, Eq)]
pub enum Joined {
    /// Every peer now in the meeting, the new one included.
    Peers(Vec<PeerRecord>),
    Full,
    Locked,
}

/// The live state of a meeting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Live {
    pub locked: bool,
    pub peers: Vec<PeerRecord>,
    /// Since when nobody is in it (Unix ms), if nobody is.
    pub empty_since: Option<i64>,
}

/// A peer dropped with its dead node: its room and meeting.
pub struct Dropped {
    pub room_id: String,
    pub meeting_id: String,
    pub peer: PeerRecord,
}

pub type StoreResult<T> = Result<T, String>;

pub enum MeetingStore {
    Local(LocalMeetings),
    Redis(RedisMeetings),
}

impl MeetingStore {
    /// A meeting began (nobody in it yet, empty since `now`).
    pub async fn open(&self, room_id: &str, meeting_id: &str, now: i64) -> StoreResult<()> {
        match self {
            MeetingStore::Local(s) => {
                s.open(room_id, meeting_id, now);
                Ok(())
            }
            MeetingStore::Redis(s) => s.open(room_id, meeting_id, now).await,
        }
    }

    /// Adds a peer unless the meeting is full or locked (checked and done at once).
    pub async fn join(&self, req: JoinRequest<'_>) -> StoreResult<Joined> {
        match self {
            MeetingStore::Local(s) => Ok(s.join(req)),
            MeetingStore::Redis(s) => s.join(req).await,
        }
    }

    /// Removes a peer; the record if it was there (so one leave is told once).
    pub async fn leave(
        &self,
        room_id: &str,
        meeting_id: &str,
        peer_id: &str,
        now: i64,
    ) -> StoreResult<Option<PeerRecord>> {
        match self {
            MeetingStore::Local(s) => Ok(s.leave(room_id, Some(meeting_id), peer_id, now)),
            MeetingStore::Redis(s) => s.leave(room_id, meeting_id, peer_id, now).await,
        }
    }

    /// Changes a peer's media flags; the record after the change.
    pub async fn update(
        &self,
        room_id: &str,
        meeting_id: &str,
        peer_id: &str,
        patch: &MediaPatch,
    ) -> StoreResult<Option<PeerRecord>> {
        match self {
            MeetingStore::Local(s) => Ok(s.update(room_id, meeting_id, peer_id, patch)),
            MeetingStore::Redis(s) => s.update(room_id, meeting_id, peer_id, patch).await,
        }
    }

    pub async fn set_locked(
        &self,
        room_id: &str,
        meeting_id: &str,
        locked: bool,
    ) -> StoreResult<()> {
        match self {
            MeetingStore::Local(s) => {
                s.set_locked(room_id, meeting_id, locked);
                Ok(())
            }
            MeetingStore::Redis(s) => s.set_locked(room_id, meeting_id, locked).await,
        }
    }

    /// The live state of the meeting; `None` if the store has no record of it.
    pub async fn live(&self, room_id: &str, meeting_id: &str) -> StoreResult<Option<Live>> {
        match self {
            MeetingStore::Local(s) => Ok(s.live(room_id, meeting_id)),
            MeetingStore::Redis(s) => s.live(room_id, meeting_id).await,
        }
    }

    /// One peer of the meeting.
    pub async fn peer(
        &self,
        room_id: &str,
        meeting_id: &str,
        peer_id: &str,
    ) -> StoreResult<Option<PeerRecord>> {
        match self {
            MeetingStore::Local(s) => Ok(s.peer(room_id, meeting_id, peer_id)),
            MeetingStore::Redis(s) => s.peer(room_id, meeting_id, peer_id).await,
        }
    }

    /// Two peers of the meeting at once (a signal's sender and its addressee).
    pub async fn pair(
        &self,
        room_id: &str,
        meeting_id: &str,
        a: &str,
        b: &str,
    ) -> StoreResult<(Option<PeerRecord>, Option<PeerRecord>)> {
        match self {
            MeetingStore::Local(s) => Ok((
                s.peer(room_id, meeting_id, a),
                s.peer(room_id, meeting_id, b),
            )),
            MeetingStore::Redis(s) => s.pair(room_id, meeting_id, a, b).await,
        }
    }

    /// The meeting ended: forgets it; the peers that were in it.
    pub async fn close(&self, room_id: &str, meeting_id: &str) -> StoreResult<Vec<PeerRecord>> {
        match self {
            MeetingStore::Local(s) => Ok(s.close(room_id, meeting_id)),
            MeetingStore::Redis(s) => s.close(room_id, meeting_id).await,
        }
    }

    /// Drops every peer hosted by `node` (dead, or this node starting again).
    pub async fn drop_node(&self, node: &str, now: i64) -> StoreResult<Vec<Dropped>> {
        match self {
            MeetingStore::Local(_) => Ok(Vec::new()),
            MeetingStore::Redis(s) => s.drop_node(node, now).await,
        }
    }
}
