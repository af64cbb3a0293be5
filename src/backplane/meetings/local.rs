//! The meeting store of a single node: a map under a mutex.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{JoinRequest, Joined, Live, PeerRecord};
use crate::domain::meeting::MediaPatch;

struct Entry {
    meeting_id: String,
    live: Live,
}

#[derive(Default)]
pub struct LocalMeetings {
    rooms: Mutex<HashMap<String, Entry>>,
}

impl LocalMeetings {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Entry>) -> T) -> T {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut rooms)
    }

    /// The entry of this meeting, replacing what an earlier meeting of the room left.
    fn entry<'a>(
        rooms: &'a mut HashMap<String, Entry>,
        room_id: &str,
        meeting_id: &str,
        now: i64,
    ) -> &'a mut Entry {
        let e = rooms.entry(room_id.to_string()).or_insert_with(|| Entry {
            meeting_id: meeting_id.to_string(),
            live: Live::default(),
        });
        if e.meeting_id != meeting_id {
            e.meeting_id = meeting_id.to_string();
            e.live = Live::default();
        }
        if e.live.peers.is_empty() && e.live.empty_since.is_none() {
            e.live.empty_since = Some(now);
        }
        e
    }

    fn existing<'a>(
        rooms: &'a mut HashMap<String, Entry>,
        room_id: &str,
        meeting_id: &str,
    ) -> Option<&'a mut Entry> {
        rooms
            .get_mut(room_id)
            .filter(|e| e.meeting_id == meeting_id)
    }

    pub fn open(&self, room_id: &str, meeting_id: &str, now: i64) {
        self.with(|r| {
            Self::entry(r, room_id, meeting_id, now);
        })
    }

    pub fn join(&self, req: JoinRequest<'_>) -> Joined {
        self.with(|r| {
            let e = Self::entry(r, req.room_id, req.meeting_id, req.now);
            let live = &mut e.live;
            if let Some(p) = live
                .peers
                .iter_mut()
                .find(|p| p.peer_id == req.peer.peer_id)
            {
                *p = req.peer;
            } else {
                if live.locked && !req.host {
                    return Joined::Locked;
                }
                if live.peers.len() >= req.max {
                    return Joined::Full;
                }
                live.peers.push(req.peer);
            }
            live.empty_since = None;
            Joined::Peers(live.peers.clone())
        })
    }

    pub fn leave(
        &self,
        room_id: &str,
        meeting_id: Option<&str>,
        peer_id: &str,
        now: i64,
    ) -> Option<PeerRecord> {
        self.with(|r| {
            let e = r.get_mut(room_id)?;
            if meeting_id.is_some_and(|m| m != e.meeting_id) {
                return None;
            }
            let i = e.live.peers.iter().position(|p| p.peer_id == peer_id)?;
            let gone = e.live.peers.remove(i);
            if e.live.peers.is_empty() {
                e.live.empty_since = Some(now);
            }
            Some(gone)
        })
    }

    pub fn update(
        &self,
        room_id: &str,
        meeting_id: &str,
        peer_id: &str,
        patch: &MediaPatch,
    ) -> Option<PeerRecord> {
        self.with(|r| {
            let e = Self::existing(r, room_id, meeting_id)?;
            let p = e.live.peers.iter_mut().find(|p| p.peer_id == peer_id)?;
            p.apply(patch);
            Some(p.clone())
        })
    }

    pub fn set_locked(&self, room_id: &str, meeting_id: &str, locked: bool) {
        let now = crate::domain::time::now_ms();
        self.with(|r| Self::entry(r, room_id, meeting_id, now).live.locked = locked)
    }

    pub fn live(&self, room_id: &str, meeting_id: &str) -> Option<Live> {
        self.with(|r| Self::existing(r, room_id, meeting_id).map(|e| e.live.clone()))
    }

    pub fn peer(&self, room_id: &str, meeting_id: &str, peer_id: &str) -> Option<PeerRecord> {
        self.with(|r| {
            let e = Self::existing(r, room_id, meeting_id)?;
            e.live.peers.iter().find(|p| p.peer_id == peer_id).cloned()
        })
    }

    pub fn close(&self, room_id: &str, meeting_id: &str) -> Vec<PeerRecord> {
        self.with(|r| {
            if r.get(room_id).is_some_and(|e| e.meeting_id == meeting_id) {
                r.remove(room_id).map(|e| e.live.peers).unwrap_or_default()
            } else {
                Vec::new()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: &str) -> PeerRecord {
        PeerRecord {
            peer_id: id.into(),
            user_id: format!("user-{id}"),
            name: None,
            joined_at: 1,
            audio: false,
            video: false,
            screen: false,
            hand_raised: false,
            node: "n".into(),
        }
    }

    fn join(s: &LocalMeetings, id: &str, max: usize, host: bool) -> Joined {
        s.join(JoinRequest {
            room_id: "r",
            meeting_id: "m",
            peer: peer(id),
            max,
            host,
            now: 5,
        })
    }

    #[test]
    fn a_full_meeting_refuses_the_next_peer_but_not_one_already_in() {
        let s = LocalMeetings::new();
        assert!(matches!(join(&s, "a", 2, false), Joined::Peers(p) if p.len() == 1));
        assert!(matches!(join(&s, "b", 2, false), Joined::Peers(p) if p.len() == 2));
        assert_eq!(join(&s, "c", 2, false), Joined::Full);
        assert!(matches!(join(&s, "a", 2, false), Joined::Peers(p) if p.len() == 2));
    }

    #[test]
    fn a_locked_meeting_admits_hosts_only() {
        let s = LocalMeetings::new();
        s.open("r", "m", 1);
        s.set_locked("r", "m", true);
        assert_eq!(join(&s, "a", 8, false), Joined::Locked);
        assert!(matches!(join(&s, "b", 8, true), Joined::Peers(_)));
    }

    #[test]
    fn the_last_leave_marks_the_meeting_empty_and_a_leave_counts_once() {
        let s = LocalMeetings::new();
        s.open("r", "m", 1);
        assert_eq!(s.live("r", "m").unwrap().empty_since, Some(1));
        join(&s, "a", 8, false);
        assert_eq!(s.live("r", "m").unwrap().empty_since, None);
        assert!(s.leave("r", Some("m"), "a", 9).is_some());
        assert!(s.leave("r", Some("m"), "a", 9).is_none());
        assert_eq!(s.live("r", "m").unwrap().empty_since, Some(9));
    }

    #[test]
    fn a_new_meeting_of_the_room_starts_from_nothing() {
        let s = LocalMeetings::new();
        join(&s, "a", 8, false);
        s.open("r", "m2", 3);
        let live = s.live("r", "m2").unwrap();
        assert!(live.peers.is_empty() && s.live("r", "m").is_none());
        assert!(s.close("r", "m").is_empty());
        assert!(s.peer("r", "m2", "a").is_none());
    }
}
