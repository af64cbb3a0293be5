//! Meetings (video calls of a room) as clients see them, and the rules of their
//! attendance report.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::time::{ser_ms, ser_opt_ms};

/// One joined socket of a meeting, with its media state.
#[derive(Serialize, Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    pub peer_id: String,
    pub user_id: String,
    #[schema(required = true)]
    pub name: Option<String>,
    #[serde(serialize_with = "ser_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub joined_at: i64,
    pub audio: bool,
    pub video: bool,
    pub screen: bool,
    pub hand_raised: bool,
}

/// The running meeting of a room (`GET …/meeting`, `meeting-started`).
#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Meeting {
    pub id: String,
    pub room_id: String,
    #[schema(required = true)]
    pub title: Option<String>,
    pub started_by: String,
    #[serde(serialize_with = "ser_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: i64,
    pub locked: bool,
    pub participants: Vec<Participant>,
}

/// A change of media state: only the flags given change.
#[derive(Deserialize, Serialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MediaPatch {
    pub audio: Option<bool>,
    pub video: Option<bool>,
    pub screen: Option<bool>,
    pub hand_raised: Option<bool>,
}

/// Why a peer left a meeting.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LeftReason {
    Left,
    Disconnected,
    Removed,
}

/// Why a meeting ended.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EndReason {
    Ended,
    Empty,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Ended => "ended",
            EndReason::Empty => "empty",
        }
    }
}

/// What a host may do to a peer or to the meeting.
#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum HostAction {
    Mute,
    Remove,
    LowerHand,
    Lock,
    Unlock,
}

impl HostAction {
    /// Whether the action names a peer (`peerId` required).
    pub fn targets_peer(self) -> bool {
        matches!(
            self,
            HostAction::Mute | HostAction::Remove | HostAction::LowerHand
        )
    }
}

/// One stint of one peer in a meeting, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stint {
    pub user_id: String,
    pub name: Option<String>,
    pub joined_at: i64,
    pub left_at: Option<i64>,
}

/// One user's line of a meeting's attendance report.
#[derive(Serialize, Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attendance {
    pub user_id: String,
    #[schema(required = true)]
    pub name: Option<String>,
    #[serde(serialize_with = "ser_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub joined_at: i64,
    #[serde(serialize_with = "ser_opt_ms")]
    #[schema(required = true, value_type = Option<String>, format = DateTime)]
    pub left_at: Option<i64>,
    pub seconds: i64,
}

/// A meeting of the room's history with its attendance (`GET …/meetings`).
#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PastMeeting {
    pub id: String,
    pub room_id: String,
    #[schema(required = true)]
    pub title: Option<String>,
    pub started_by: String,
    #[serde(serialize_with = "ser_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: i64,
    #[serde(serialize_with = "ser_opt_ms")]
    #[schema(required = true, value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<i64>,
    #[schema(required = true)]
    pub ended_by: Option<String>,
    #[schema(required = true)]
    pub end_reason: Option<String>,
    pub attendance: Vec<Attendance>,
}

/// The attendance report: one line per user, first join to last leave (`None` while a
/// stint is open), and the time covered by the union of their stints, so two devices
/// at once count once and the gaps between rejoins not at all. Open stints count to
/// `now`. Lines in order of first join.
pub fn attendance(stints: &[Stint], now: i64) -> Vec<Attendance> {
    let mut by_user: BTreeMap<&str, Vec<&Stint>> = BTreeMap::new();
    for s in stints {
        by_user.entry(&s.user_id).or_default().push(s);
    }
    let mut out: Vec<Attendance> = by_user
        .into_values()
        .map(|mut v| {
            v.sort_by_key(|s| s.joined_at);
            let open = v.iter().any(|s| s.left_at.is_none());
            let (mut total, mut cur): (i64, Option<(i64, i64)>) = (0, None);
            for s in &v {
                let end = s.left_at.unwrap_or(now).max(s.joined_at);
                cur = match cur {
                    Some((a, b)) if s.joined_at <= b => Some((a, b.max(end))),
                    Some((a, b)) => {
                        total += b - a;
                        Some((s.joined_at, end))
                    }
                    None => Some((s.joined_at, end)),
                };
            }
            if let Some((a, b)) = cur {
                total += b - a;
            }
            let last = v.iter().rev().find_map(|s| s.name.clone());
            Attendance {
                user_id: v[0].user_id.clone(),
                name: last,
                joined_at: v[0].joined_at,
                left_at: if open {
                    None
                } else {
                    v.iter().filter_map(|s| s.left_at).max()
                },
                seconds: total / 1000,
            }
        })
        .collect();
    out.sort_by(|a, b| (a.joined_at, &a.user_id).cmp(&(b.joined_at, &b.user_id)));
    out
}

/// One STUN or TURN server for `RTCPeerConnection`'s `iceServers`.
#[derive(Serialize, Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// `GET /chat/meetings/ice-servers`: the servers, and how long the credentials last.
#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IceServers {
    pub ice_servers: Vec<IceServer>,
    pub ttl: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stint(user: &str, joined: i64, left: Option<i64>) -> Stint {
        Stint {
            user_id: user.into(),
            name: Some(user.to_uppercase()),
            joined_at: joined,
            left_at: left,
        }
    }

    #[test]
    fn rejoins_add_up_and_the_gap_between_them_does_not_count() {
        let a = attendance(
            &[
                stint("bob", 0, Some(10_000)),
                stint("bob", 20_000, Some(25_000)),
            ],
            99_000,
        );
        assert_eq!(a.len(), 1);
        assert_eq!(
            (a[0].joined_at, a[0].left_at, a[0].seconds),
            (0, Some(25_000), 15)
        );
    }

    #[test]
    fn two_devices_at_once_count_once() {
        let a = attendance(
            &[
                stint("bob", 0, Some(10_000)),
                stint("bob", 5_000, Some(12_000)),
            ],
            0,
        );
        assert_eq!(a[0].seconds, 12);
    }

    #[test]
    fn an_open_stint_counts_to_now_and_leaves_left_at_empty() {
        let a = attendance(
            &[stint("bob", 0, Some(4_000)), stint("bob", 6_000, None)],
            9_000,
        );
        assert_eq!((a[0].left_at, a[0].seconds), (None, 7));
    }

    #[test]
    fn lines_come_one_per_user_in_order_of_first_join() {
        let a = attendance(
            &[
                stint("zoe", 1_000, Some(2_000)),
                stint("amy", 3_000, Some(4_000)),
            ],
            0,
        );
        let users: Vec<&str> = a.iter().map(|l| l.user_id.as_str()).collect();
        assert_eq!(users, ["zoe", "amy"]);
    }

    #[test]
    fn host_actions_parse_from_their_contract_names() {
        let a: HostAction = serde_json::from_str("\"lower-hand\"").unwrap();
        assert_eq!(a, HostAction::LowerHand);
        assert!(a.targets_peer() && !HostAction::Lock.targets_peer());
    }
}
