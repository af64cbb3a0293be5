//! The limits every client input and rate is held to (defaults here, set by configuration).

use std::time::Duration;

/// Who may open a 1:1 room with whom (an existing room can always be reopened).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersonalRooms {
    /// Any user with any user id.
    Anyone,
    /// Two users who already share a group room; admins with anyone.
    SharedRoom,
    /// Only if the opener or the other user is a teacher or an admin.
    StaffOnly,
}

impl PersonalRooms {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "anyone" => Some(Self::Anyone),
            "shared-room" => Some(Self::SharedRoom),
            "staff-only" => Some(Self::StaffOnly),
            _ => None,
        }
    }
}

/// A token bucket: sustained events per second, and the burst allowed at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub per_sec: u32,
    pub burst: u32,
}

impl Rate {
    pub const fn new(per_sec: u32, burst: u32) -> Self {
        Rate { per_sec, burst }
    }
}

/// What one rejoin's catch-up may replay in all rooms together (past it the client pages
/// on over REST).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CatchUp {
    pub max_messages: usize,
    pub max_bytes: usize,
}

/// What meetings are held to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeetingLimits {
    pub max_participants: usize,
    /// A meeting with nobody in it for this long ends.
    pub empty_secs: u64,
    pub max_signal_bytes: usize,
    /// `meeting-signal` per user; joins, media state and host actions per user.
    pub signal: Rate,
    pub actions: Rate,
}

impl Default for MeetingLimits {
    fn default() -> Self {
        MeetingLimits {
            max_participants: 8,
            empty_secs: 60,
            max_signal_bytes: 64 * 1024,
            signal: Rate::new(50, 200),
            actions: Rate::new(10, 40),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Limits {
    pub max_content_chars: usize,
    pub max_join_rooms: usize,
    pub max_members_per_add: usize,
    pub max_group_name_chars: usize,
    /// Message sends per user, and per client address.
    pub send: Rate,
    pub send_per_ip: Rate,
    /// Typing events per user, and per client address.
    pub typing: Rate,
    pub typing_per_ip: Rate,
    /// Socket.IO connections per user, and per client address.
    pub connect: Rate,
    pub connect_per_ip: Rate,
    /// Status changes per user.
    pub status: Rate,
    /// Room creations (and 1:1 opens), member adds, online-user queries, per user.
    pub room_create: Rate,
    pub member_add: Rate,
    pub online_users: Rate,
    /// Members of one room at most.
    pub max_room_members: usize,
    /// Members listed in a room detail; the rest are paged.
    pub room_detail_members: usize,
    /// How long an online-users answer is reused per room.
    pub online_users_cache: Duration,
    /// Status changes are batched (for sockets that opt in) and large rooms counted
    /// once per this window.
    pub presence_window: Duration,
    /// Rooms with more members than this get `room-online-count` instead of one status
    /// event per member (0: never).
    pub count_rooms_above: usize,
    pub personal_rooms: PersonalRooms,
    pub max_body_bytes: usize,
    pub max_socket_payload_bytes: u64,
    /// Longest token lifetime accepted (exp − iat, or exp − now without iat).
    pub max_token_lifetime_secs: u64,
    /// A live socket is warned (`session-expiring`) this long before its token's exp.
    pub session_expiring_lead_secs: u64,
    /// Socket.IO connects handled at once per node.
    pub connect_concurrency: usize,
    pub catch_up: CatchUp,
    pub meeting: MeetingLimits,
    /// Full-text search: language, longest query, rate per user.
    pub search: crate::domain::search::SearchSettings,
    pub uploads: UploadLimits,
}

/// What uploads and attachments are held to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadLimits {
    /// Largest upload, in bytes (413 past it, nothing kept).
    pub max_bytes: u64,
    /// Attachments on one message at most.
    pub max_attachments: usize,
    /// Uploads per user.
    pub rate: Rate,
    /// How long a signed attachment `url` works, in seconds.
    pub url_ttl_secs: u64,
    /// An upload never attached to a message is removed after this long.
    pub orphan_secs: u64,
    /// How often the orphan sweep runs.
    pub sweep_secs: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            max_bytes: 26_214_400,
            max_attachments: 10,
            rate: Rate::new(2, 20),
            url_ttl_secs: 24 * 3600,
            orphan_secs: 24 * 3600,
            sweep_secs: 3600,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_content_chars: 4000,
            max_join_rooms: 100,
            max_members_per_add: 50,
            max_group_name_chars: 100,
            send: Rate::new(10, 20),
            send_per_ip: Rate::new(100, 1000),
            typing: Rate::new(5, 10),
            typing_per_ip: Rate::new(200, 2000),
            connect: Rate::new(5, 30),
            // Schools sit behind NAT: one address stands for many users.
            connect_per_ip: Rate::new(200, 5000),
            status: Rate::new(1, 10),
            room_create: Rate::new(1, 30),
            member_add: Rate::new(2, 30),
            online_users: Rate::new(2, 10),
            max_room_members: 5000,
            room_detail_members: 500,
            online_users_cache: Duration::from_secs(1),
            presence_window: Duration::from_millis(250),
            count_rooms_above: 200,
            personal_rooms: PersonalRooms::Anyone,
            max_body_bytes: 64 * 1024,
            max_socket_payload_bytes: 1024 * 1024,
            max_token_lifetime_secs: 24 * 3600,
            session_expiring_lead_secs: 60,
            connect_concurrency: 16,
            catch_up: CatchUp {
                max_messages: 1000,
                max_bytes: 512 * 1024,
            },
            meeting: Default::default(),
            search: Default::default(),
            uploads: Default::default(),
        }
    }
}
