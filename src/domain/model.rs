//! The chat's data types as clients see them (camelCase JSON, RFC 3339 times).

use serde::{Deserialize, Serialize};

use super::time::{ser_ms, ser_opt_ms};

/// Platform role, from the token's `role` claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Student,
    Teacher,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Student => "student",
            Role::Teacher => "teacher",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "student" => Some(Role::Student),
            "teacher" => Some(Role::Teacher),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A member's role inside one room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoomRole {
    Owner,
    Admin,
    Member,
}

impl RoomRole {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomRole::Owner => "owner",
            RoomRole::Admin => "admin",
            RoomRole::Member => "member",
        }
    }
    pub fn parse(s: &str) -> RoomRole {
        match s {
            "owner" => RoomRole::Owner,
            "admin" => RoomRole::Admin,
            _ => RoomRole::Member,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoomKind {
    Personal,
    Group,
}

impl RoomKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Personal => "personal",
            RoomKind::Group => "group",
        }
    }
    pub fn parse(s: &str) -> RoomKind {
        if s == "personal" {
            RoomKind::Personal
        } else {
            RoomKind::Group
        }
    }
}

/// Presence status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Online,
    Away,
    Busy,
    Offline,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Away => "away",
            Status::Busy => "busy",
            Status::Offline => "offline",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "online" => Some(Status::Online),
            "away" => Some(Status::Away),
            "busy" => Some(Status::Busy),
            "offline" => Some(Status::Offline),
            _ => None,
        }
    }
}

/// The authenticated caller, from a verified token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub role: Role,
    pub name: Option<String>,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
    /// The name shown to others: the token's name, or the id.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.user_id)
    }
}

#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: String,
    pub room_id: String,
    pub seq: i64,
    pub sender_id: String,
    pub sender_name: String,
    /// `null` once the message is deleted.
    #[schema(required = true)]
    pub content: Option<String>,
    #[schema(required = true)]
    pub client_message_id: Option<String>,
    #[schema(required = true)]
    pub reply_to_id: Option<String>,
    pub mentions: Vec<String>,
    #[serde(serialize_with = "ser_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(serialize_with = "ser_opt_ms")]
    #[schema(required = true, value_type = Option<String>, format = DateTime)]
    pub edited_at: Option<i64>,
    #[serde(serialize_with = "ser_opt_ms")]
    #[schema(required = true, value_type = Option<String>, format = DateTime)]
    pub deleted_at: Option<i64>,
    #[schema(required = true)]
    pub deleted_by: Option<String>,
    /// Reactions by emoji, most first (filled where messages are listed).
    pub reactions: Vec<ReactionCount>,
    /// Messages answering this one (filled where messages are listed).
    pub reply_count: i64,
    pub pinned: bool,
    /// The message this one forwards (the first of a chain of forwards).
    #[schema(required = true)]
    pub forwarded_from: Option<super::attachment::ForwardedFrom>,
    /// Uploaded files, with signed `url`s where messages reach clients.
    pub attachments: Vec<super::attachment::Attachment>,
}

/// How many users reacted to a message with one emoji.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ReactionCount {
    pub emoji: String,
    pub count: i64,
}

/// A room as listed: enough to draw a room list.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomSummary {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: RoomKind,
    #[schema(required = true)]
    pub name: Option<String>,
    pub created_by: String,
    #[serde(serialize_with = "ser_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(serialize_with = "ser_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub last_activity_at: i64,
    pub last_seq: i64,
    /// In the room list: the message with the highest `seq` (`null` in a room without
    /// messages); absent from a room detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Message>)]
    pub last_message: Option<Option<Message>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unread_count: Option<i64>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub user_id: String,
    #[schema(required = true)]
    pub name: Option<String>,
    #[schema(required = true)]
    pub role: Option<Role>,
    pub room_role: RoomRole,
    pub last_read_seq: i64,
    #[serde(serialize_with = "ser_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub joined_at: i64,
}

/// A room with its members.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomDetail {
    #[serde(flatten)]
    pub room: RoomSummary,
    /// The first members in join order (all of them unless the room is large).
    pub members: Vec<Member>,
    /// Extension: how many members the room has.
    pub member_count: i64,
    /// Extension: the cursor of `GET /chat/rooms/{id}/members` for the members not
    /// listed, `null` when `members` holds them all.
    #[schema(required = true)]
    pub members_next_cursor: Option<String>,
}

/// A user as classchat knows them (from tokens, or only by id).
#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: String,
    pub name: Option<String>,
    pub role: Option<Role>,
    pub last_seen: Option<i64>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserStatus {
    pub user_id: String,
    pub status: Status,
    #[serde(serialize_with = "ser_opt_ms")]
    #[schema(required = true, value_type = Option<String>, format = DateTime)]
    pub last_seen: Option<i64>,
}
