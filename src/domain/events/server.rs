//! Server→client event bodies: each type is one event of the contract and names itself
//! (`ServerEvent::NAME`); `SERVER_EVENTS` lists them all, from the same declarations.

use serde::{Deserialize, Serialize};

use super::ServerEvent;
use crate::domain::meeting::{EndReason, HostAction, LeftReason, Meeting, Participant};
use crate::domain::time::ser_ms;
use crate::domain::{Message, Principal, RoomSummary, Status, UserStatus};

macro_rules! server_events {
    ($($ty:ty = $name:literal $({ $($item:item)* })?,)+) => {
        $(impl ServerEvent for $ty {
            const NAME: &'static str = $name;
            $($($item)*)?
        })+

        /// The name of every server→client event (metric series start from these).
        pub const SERVER_EVENTS: &[&str] = &[$($name,)+];
    };
}

server_events! {
    ChatRoomsJoined = "chat-rooms-joined",
    NewChatMessage<'_> = "new-chat-message" {
        fn seq(&self) -> Option<i64> {
            Some(self.0.seq)
        }
    },
    ChatUserTyping = "chat-user-typing",
    MessagesSeen = "messages-seen",
    ChatMessageDeleted = "chat-message-deleted" {
        fn change_seq(&self) -> Option<i64> {
            Some(self.change_seq)
        }
    },
    ChatMessageEdited = "chat-message-edited" {
        fn change_seq(&self) -> Option<i64> {
            Some(self.change_seq)
        }
    },
    ChatMessageReaction = "chat-message-reaction" {
        fn change_seq(&self) -> Option<i64> {
            Some(self.change_seq)
        }
    },
    ChatMessagePinned = "chat-message-pinned" {
        fn change_seq(&self) -> Option<i64> {
            Some(self.change_seq)
        }
    },
    ChatUserStatusUpdate = "chat-user-status-update",
    ChatUsersStatusUpdate = "chat-users-status-update",
    RoomOnlineCount = "room-online-count",
    ChatNotification<'_> = "chat-notification",
    RoomOnlineUsers = "room-online-users",
    SessionExpiring = "session-expiring",
    SessionExpired = "session-expired",
    MeetingStarted<'_> = "meeting-started",
    MeetingParticipantJoined<'_> = "meeting-participant-joined",
    MeetingParticipantLeft = "meeting-participant-left",
    MeetingSignal<'_> = "meeting-signal",
    MeetingMediaState<'_> = "meeting-media-state",
    MeetingHostActionTaken = "meeting-host-action",
    MeetingEnded = "meeting-ended",
}

/// `session-expiring`: the socket's token ends at `expiresAt`; reconnect with a new one.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct SessionExpiring {
    #[serde(serialize_with = "ser_ms")]
    pub expires_at: i64,
}

/// `session-expired`: the token ended; the server disconnects the socket next.
#[derive(Serialize, Debug)]
pub struct SessionExpired {
    pub code: &'static str,
}

/// `meeting-started`: a meeting began in a room the socket joined.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct MeetingStarted<'a> {
    pub room_id: &'a str,
    pub meeting: &'a Meeting,
}

/// `meeting-participant-joined`.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct MeetingParticipantJoined<'a> {
    pub room_id: &'a str,
    pub meeting_id: &'a str,
    pub participant: &'a Participant,
}

/// `meeting-participant-left`.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct MeetingParticipantLeft {
    pub room_id: String,
    pub meeting_id: String,
    pub peer_id: String,
    pub user_id: String,
    pub reason: LeftReason,
}

/// `meeting-signal`, as relayed to the one peer it is for (`signal` untouched).
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct MeetingSignal<'a> {
    pub room_id: &'a str,
    pub from: &'a str,
    pub from_user_id: &'a str,
    pub signal: &'a serde_json::Value,
}

/// `meeting-media-state`: a peer's flags after a change.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct MeetingMediaState<'a> {
    pub room_id: &'a str,
    pub peer_id: &'a str,
    pub user_id: &'a str,
    pub audio: bool,
    pub video: bool,
    pub screen: bool,
    pub hand_raised: bool,
}

impl<'a> MeetingMediaState<'a> {
    pub fn of(room_id: &'a str, p: &'a Participant) -> Self {
        MeetingMediaState {
            room_id,
            peer_id: &p.peer_id,
            user_id: &p.user_id,
            audio: p.audio,
            video: p.video,
            screen: p.screen,
            hand_raised: p.hand_raised,
        }
    }
}

/// `meeting-host-action`: what a host did to the receiving peer (or, for `lock` and
/// `unlock`, to the meeting); `by` is the host's user id.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct MeetingHostActionTaken {
    pub room_id: String,
    pub action: HostAction,
    pub by: String,
}

/// `meeting-ended`.
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeetingEnded {
    pub room_id: String,
    pub meeting_id: String,
    #[schema(required = true)]
    pub ended_by: Option<String>,
    pub reason: EndReason,
}

/// `chat-rooms-joined`, also the ack of `join-chat-rooms`.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ChatRoomsJoined {
    pub room_ids: Vec<String>,
    pub rejected: Vec<Rejected>,
    /// Present when the join asked for a catch-up (`lastSeq`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<Vec<CatchUp>>,
    /// Present when the join asked for a catch-up (`lastSeq` or `lastChangeSeq`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_catch_up: Option<Vec<ChangeCatchUp>>,
}

/// What a rejoin's catch-up replayed of one room's change log (deletions).
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ChangeCatchUp {
    pub room_id: String,
    /// The `lastChangeSeq` the client sent for the room, if any.
    pub after_change_seq: Option<i64>,
    /// `chat-message-deleted` events replayed on this socket.
    pub replayed: usize,
    /// The room's last change `seq`: send it as `lastChangeSeq` next time.
    pub last_change_seq: i64,
    /// False when more changes were missed than replayed: reload the room's history.
    pub complete: bool,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Rejected {
    pub room_id: String,
    pub code: &'static str,
}

/// What a rejoin's catch-up replayed in one room.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct CatchUp {
    pub room_id: String,
    /// The `lastSeq` the client sent.
    pub after_seq: i64,
    /// Messages replayed on this socket.
    pub replayed: usize,
    /// False when more were missed than replayed: page on from `nextAfter`.
    pub complete: bool,
    pub next_after: Option<i64>,
}

/// `new-chat-message`: the message itself.
#[derive(Serialize, Debug)]
#[serde(transparent)]
pub struct NewChatMessage<'a>(pub &'a Message);

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ChatUserTyping {
    pub room_id: String,
    pub user_id: String,
    pub user_name: String,
    pub is_typing: bool,
}

/// `messages-seen`, also what a read receipt answers.
#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagesSeen {
    pub room_id: String,
    pub user_id: String,
    pub up_to_seq: i64,
    pub message_ids: Vec<String>,
    #[serde(serialize_with = "ser_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub seen_at: i64,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessageDeleted {
    pub room_id: String,
    pub message_id: String,
    pub deleted_by: String,
    /// The deletion's place in the room's change log: 1, 2, 3, … per room.
    pub change_seq: i64,
}

/// `chat-message-edited`: a message's content as its sender changed it.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessageEdited {
    pub room_id: String,
    pub message_id: String,
    pub content: String,
    #[serde(serialize_with = "ser_ms")]
    pub edited_at: i64,
    /// The edit's place in the room's change log (shared with deletions).
    pub change_seq: i64,
}

/// `chat-message-reaction`: a user added or removed a reaction; `count` is how many users
/// react with that emoji after it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessageReaction {
    pub room_id: String,
    pub message_id: String,
    pub emoji: String,
    pub user_id: String,
    pub action: crate::domain::reaction::ReactionAction,
    pub count: i64,
    /// The reaction's place in the room's change log (shared with edits and deletions).
    pub change_seq: i64,
}

/// `chat-message-pinned`: a message was pinned or unpinned `by` a user.
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessagePinned {
    pub room_id: String,
    pub message_id: String,
    pub pinned: bool,
    pub by: String,
    /// The change's place in the room's change log.
    pub change_seq: i64,
}

/// `chat-user-status-update`: the user's status as contacts see it.
#[derive(Serialize, Debug)]
#[serde(transparent)]
pub struct ChatUserStatusUpdate(pub UserStatus);

/// `chat-users-status-update`: the latest states of the contacts who changed within one
/// window, each once, for sockets that opted in (`statusUpdates: "batched"`). Each entry
/// is a `chat-user-status-update` body, already encoded.
#[derive(Serialize, Debug)]
pub struct ChatUsersStatusUpdate {
    pub users: Vec<Box<serde_json::value::RawValue>>,
}

/// `room-online-count`: in rooms above the size threshold, how many members are online
/// (instead of one `chat-user-status-update` per member), at most once per window.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct RoomOnlineCount {
    pub room_id: String,
    pub online: usize,
    pub members: usize,
}

/// `room-online-users`, also the ack of `get-room-online-users`.
#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct RoomOnlineUsers {
    pub room_id: String,
    pub users: Vec<OnlineUser>,
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct OnlineUser {
    pub user_id: String,
    pub name: Option<String>,
    pub status: Status,
}

/// `chat-notification`, by `type`.
#[derive(Serialize, Debug)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ChatNotification<'a> {
    NewChat {
        room: &'a RoomSummary,
        by: By,
    },
    GroupInvite {
        room: &'a RoomSummary,
        by: By,
    },
    #[serde(rename_all = "camelCase")]
    MemberAdded {
        room: &'a RoomSummary,
        by: By,
        user_ids: &'a [String],
    },
    Mention {
        room: Option<&'a RoomSummary>,
        message: &'a Message,
        by: By,
    },
    MeetingStarted {
        room: &'a RoomSummary,
        meeting: &'a Meeting,
        by: By,
    },
}

/// Who did it: `{ userId, name }`.
#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct By {
    pub user_id: String,
    pub name: String,
}

impl By {
    pub fn of(p: &Principal) -> Self {
        By {
            user_id: p.user_id.clone(),
            name: p.display_name().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn notifications_carry_their_type_and_camel_case_fields() {
        let room = RoomSummary {
            id: "r".into(),
            kind: crate::domain::RoomKind::Group,
            name: Some("Physics".into()),
            created_by: "t".into(),
            created_at: 0,
            last_activity_at: 0,
            last_seq: 0,
            last_message: None,
            unread_count: None,
        };
        let by = By {
            user_id: "t".into(),
            name: "Teacher".into(),
        };
        let ids = vec!["a".to_string()];
        let v = serde_json::to_value(ChatNotification::MemberAdded {
            room: &room,
            by,
            user_ids: &ids,
        })
        .unwrap();
        assert_eq!(v["type"], "member-added");
        assert_eq!(v["userIds"], json!(["a"]));
        assert_eq!(v["by"], json!({ "userId": "t", "name": "Teacher" }));
        assert_eq!(v["room"]["id"], "r");
    }

    #[test]
    fn every_server_event_is_listed_once() {
        let mut names = SERVER_EVENTS.to_vec();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SERVER_EVENTS.len());
        assert!(SERVER_EVENTS.contains(&NewChatMessage::NAME));
    }
}
