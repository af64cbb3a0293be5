//! Client inputs (REST bodies and socket payloads alike), parsed and checked against the limits.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::limits::Limits;
use super::model::Status;
use crate::domain::error::{AppError, AppResult};

/// Parses a JSON value into a request type, naming the offending field on failure.
pub fn parse<T: DeserializeOwned>(v: Value) -> AppResult<T> {
    if !v.is_object() {
        return Err(AppError::bad_request(
            "invalid_payload",
            "payload must be a JSON object",
        ));
    }
    if has_nul(&v) {
        return Err(AppError::bad_request(
            "invalid_payload",
            "strings must not contain NUL characters",
        ));
    }
    serde_json::from_value(v).map_err(|e| AppError::bad_request("invalid_payload", e.to_string()))
}

/// True if any string (or key) in the value holds U+0000, which no text column can store.
pub fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(has_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

fn check_id(field: &str, id: &str) -> AppResult<()> {
    let n = id.chars().count();
    if n == 0 || n > 128 {
        return Err(AppError::bad_request(
            "invalid_payload",
            format!("{field} must be 1-128 characters"),
        ));
    }
    Ok(())
}

#[derive(Deserialize, Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatePersonal {
    #[schema(min_length = 1, max_length = 128)]
    pub user_id: String,
}

impl CreatePersonal {
    pub fn validate(&self) -> AppResult<()> {
        check_id("userId", &self.user_id)
    }
}

#[derive(Deserialize, Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateGroup {
    /// 1–100 characters after trimming.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// Ids of users to invite (1–128 characters each, at most 50).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub member_ids: Vec<String>,
}

impl CreateGroup {
    pub fn validate(&self, limits: &Limits) -> AppResult<()> {
        let n = self.name.trim().chars().count();
        if n == 0 || n > limits.max_group_name_chars {
            return Err(AppError::bad_request(
                "invalid_name",
                format!("name must be 1-{} characters", limits.max_group_name_chars),
            ));
        }
        check_members(&self.member_ids, limits)
    }
}

fn check_members(ids: &[String], limits: &Limits) -> AppResult<()> {
    if ids.len() > limits.max_members_per_add {
        return Err(AppError::too_large(
            "too_many_members",
            format!("at most {} members at once", limits.max_members_per_add),
        ));
    }
    ids.iter().try_for_each(|id| check_id("userIds[]", id))
}

#[derive(Deserialize, Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddMembers {
    /// 1–50 user ids (1–128 characters each).
    #[schema(min_items = 1, max_items = 50)]
    pub user_ids: Vec<String>,
}

impl AddMembers {
    pub fn validate(&self, limits: &Limits) -> AppResult<()> {
        if self.user_ids.is_empty() {
            return Err(AppError::bad_request(
                "invalid_payload",
                "userIds must not be empty",
            ));
        }
        check_members(&self.user_ids, limits)
    }
}

#[derive(Deserialize, Debug, Clone, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendMessage {
    /// Required, but may be empty with attachments; left out with `forwardFromId`.
    /// 1–4000 characters (`CLASSCHAT_MAX_CONTENT_CHARS`), not only whitespace.
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub content: Option<String>,
    /// An idempotency key of the sender's: a repeat answers the first message (200).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 128)]
    pub client_message_id: Option<String>,
    /// A message of the same room this one answers.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 128)]
    pub reply_to_id: Option<String>,
    /// Members to notify (others are dropped), at most 50.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub mentions: Vec<String>,
    /// Uploads of the sender's to attach (at most 10).
    #[serde(default)]
    #[schema(max_items = 10)]
    pub attachment_ids: Vec<String>,
    /// A message the sender can read, to forward (with its content and attachments).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 128)]
    pub forward_from_id: Option<String>,
}

/// Message content: 1 to `max_content_chars` characters, not only whitespace.
fn check_content(content: &str, limits: &Limits) -> AppResult<()> {
    let n = content.chars().count();
    if n > limits.max_content_chars {
        return Err(AppError::too_large(
            "content_too_large",
            format!(
                "content is limited to {} characters",
                limits.max_content_chars
            ),
        ));
    }
    if content.trim().is_empty() {
        return Err(AppError::bad_request(
            "invalid_content",
            "content must not be empty",
        ));
    }
    Ok(())
}

/// `PATCH …/messages/{id}` (and `edit-chat-message` without its ids).
#[derive(Deserialize, Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EditMessage {
    /// 1–4000 characters (`CLASSCHAT_MAX_CONTENT_CHARS`), not only whitespace.
    #[schema(min_length = 1, max_length = 4000, pattern = "\\S")]
    pub content: String,
}

impl EditMessage {
    pub fn validate(&self, limits: &Limits) -> AppResult<()> {
        check_content(&self.content, limits)
    }
}

/// `react-chat-message`.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct SocketReact {
    pub room_id: String,
    pub message_id: String,
    pub emoji: String,
    pub action: crate::domain::reaction::ReactionAction,
}

/// `edit-chat-message`.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct SocketEdit {
    pub room_id: String,
    pub message_id: String,
    #[serde(flatten)]
    pub edit: EditMessage,
}

impl SendMessage {
    pub fn validate(&self, limits: &Limits) -> AppResult<()> {
        if let Some(f) = &self.forward_from_id {
            check_id("forwardFromId", f)?;
            if self.content.as_deref().is_some_and(|c| !c.is_empty())
                || !self.attachment_ids.is_empty()
            {
                return Err(AppError::bad_request(
                    "invalid_payload",
                    "a forward carries the original's content and attachments: leave content and attachmentIds out",
                ));
            }
        } else {
            match self.content.as_deref() {
                None if self.attachment_ids.is_empty() => {
                    return Err(AppError::bad_request(
                        "invalid_payload",
                        "content is required (it may be empty only with attachmentIds)",
                    ))
                }
                Some(c) if self.attachment_ids.is_empty() || !c.is_empty() => {
                    check_content(c, limits)?
                }
                _ => {}
            }
        }
        if self.attachment_ids.len() > limits.uploads.max_attachments {
            return Err(AppError::too_large(
                "too_many_attachments",
                format!(
                    "at most {} attachments per message",
                    limits.uploads.max_attachments
                ),
            ));
        }
        self.attachment_ids
            .iter()
            .try_for_each(|a| check_id("attachmentIds[]", a))?;
        if let Some(c) = &self.client_message_id {
            check_id("clientMessageId", c)?;
        }
        if self.mentions.len() > limits.max_members_per_add {
            return Err(AppError::too_large(
                "too_many_mentions",
                "too many mentions",
            ));
        }
        self.mentions
            .iter()
            .try_for_each(|m| check_id("mentions[]", m))
    }
}

/// A socket send: the REST body plus `roomId`.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct SocketSend {
    pub room_id: String,
    #[serde(flatten)]
    pub message: SendMessage,
}

/// A read receipt: either a pointer or explicit message ids.
#[derive(Deserialize, Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarkSeen {
    /// Everything up to this `seq` (lowered to the room's `lastSeq`). Not with `messageIds`.
    #[serde(default)]
    #[schema(minimum = 0)]
    pub up_to_seq: Option<i64>,
    /// Up to the highest of these messages (1–1000 ids). Not with `upToSeq`.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 1000)]
    pub message_ids: Option<Vec<String>>,
}

impl MarkSeen {
    pub fn validate(&self) -> AppResult<()> {
        match (&self.up_to_seq, &self.message_ids) {
            (Some(s), None) if *s >= 0 => Ok(()),
            (None, Some(ids)) if !ids.is_empty() && ids.len() <= 1000 => Ok(()),
            _ => Err(AppError::bad_request(
                "invalid_payload",
                "give either upToSeq (>= 0) or messageIds (1-1000 ids)",
            )),
        }
    }
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct SocketSeen {
    pub room_id: String,
    #[serde(flatten)]
    pub seen: MarkSeen,
}

#[derive(Deserialize, Debug, utoipa::ToSchema)]
pub struct SetStatus {
    #[schema(value_type = super::model::Status)]
    pub status: String,
}

impl SetStatus {
    pub fn status(&self) -> AppResult<Status> {
        Status::parse(&self.status).ok_or_else(|| {
            AppError::bad_request(
                "invalid_status",
                "status must be online, away, busy or offline",
            )
        })
    }
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct JoinRooms {
    pub room_ids: Vec<String>,
    /// Catch-up after a reconnect: the last `seq` the client holds, per room.
    #[serde(default)]
    pub last_seq: std::collections::HashMap<String, i64>,
    /// The last change `seq` (deletions) the client applied, per room: the changes
    /// after it are replayed.
    #[serde(default)]
    pub last_change_seq: std::collections::HashMap<String, i64>,
}

impl JoinRooms {
    pub fn validate(&self, limits: &Limits) -> AppResult<()> {
        if self.last_seq.values().any(|s| *s < 0) {
            return Err(AppError::bad_request(
                "invalid_payload",
                "lastSeq values must be seqs (>= 0)",
            ));
        }
        if self.last_change_seq.values().any(|s| *s < 0) {
            return Err(AppError::bad_request(
                "invalid_payload",
                "lastChangeSeq values must be change seqs (>= 0)",
            ));
        }
        if self.room_ids.len() > limits.max_join_rooms {
            return Err(AppError::too_large(
                "too_many_rooms",
                format!("at most {} room ids per join", limits.max_join_rooms),
            ));
        }
        Ok(())
    }
}

/// `meeting-join`.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct MeetingJoin {
    pub room_id: String,
    #[serde(default)]
    pub audio: bool,
    #[serde(default)]
    pub video: bool,
}

/// `meeting-signal`: the signal is relayed untouched once its `type` is one of the three.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct MeetingSignalReq {
    pub room_id: String,
    pub to: String,
    pub signal: Value,
}

impl MeetingSignalReq {
    /// The signal must be an object of a known `type`, within `max_bytes` encoded.
    pub fn validate(&self, max_bytes: usize) -> AppResult<()> {
        let kind = self.signal.get("type").and_then(Value::as_str);
        if !matches!(kind, Some("offer" | "answer" | "ice-candidate")) {
            return Err(AppError::bad_request(
                "invalid_payload",
                "signal.type must be \"offer\", \"answer\" or \"ice-candidate\"",
            ));
        }
        let size = serde_json::to_vec(&self.signal).map_or(usize::MAX, |v| v.len());
        if size > max_bytes {
            return Err(AppError::too_large(
                "payload_too_large",
                format!("a signal is at most {max_bytes} bytes"),
            ));
        }
        Ok(())
    }
}

/// `meeting-media-state`.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct MeetingMedia {
    pub room_id: String,
    #[serde(flatten)]
    pub patch: crate::domain::meeting::MediaPatch,
}

/// `meeting-host-action`.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct MeetingHostActionReq {
    pub room_id: String,
    pub action: crate::domain::meeting::HostAction,
    pub peer_id: Option<String>,
}

/// `POST /chat/rooms/{roomId}/meeting`.
#[derive(Deserialize, Debug, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartMeeting {
    /// At most 200 characters; blank means none.
    #[schema(max_length = 200)]
    pub title: Option<String>,
}

impl StartMeeting {
    /// A title is 1–200 characters when given (blank means none).
    pub fn title(&self) -> AppResult<Option<String>> {
        let Some(t) = self
            .title
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return Ok(None);
        };
        if t.chars().count() > 200 {
            return Err(AppError::bad_request(
                "invalid_payload",
                "title must be at most 200 characters",
            ));
        }
        Ok(Some(t.to_string()))
    }
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct RoomRef {
    pub room_id: String,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Typing {
    pub room_id: String,
    pub is_typing: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_over_the_limit_is_too_large() {
        let limits = Limits::default();
        let m: SendMessage = parse(json!({ "content": "x".repeat(4001) })).unwrap();
        assert_eq!(m.validate(&limits).unwrap_err().status, 413);
        let m: SendMessage = parse(json!({ "content": "é".repeat(4000) })).unwrap();
        assert!(m.validate(&limits).is_ok());
    }

    #[test]
    fn wrong_field_types_are_invalid_payload() {
        let e = parse::<SendMessage>(json!({ "content": 5 })).unwrap_err();
        assert_eq!((e.status, e.code), (400, "invalid_payload"));
        let e = parse::<SendMessage>(json!([1, 2])).unwrap_err();
        assert_eq!(e.code, "invalid_payload");
    }

    #[test]
    fn nul_characters_are_refused_anywhere() {
        let e = parse::<SendMessage>(json!({ "content": "a\u{0}b" })).unwrap_err();
        assert_eq!(e.code, "invalid_payload");
        assert!(parse::<JoinRooms>(json!({ "roomIds": ["x\u{0}"] })).is_err());
    }

    #[test]
    fn seen_needs_exactly_one_form() {
        let s: MarkSeen = parse(json!({ "upToSeq": 3, "messageIds": ["a"] })).unwrap();
        assert!(s.validate().is_err());
        let s: MarkSeen = parse(json!({ "upToSeq": 3 })).unwrap();
        assert!(s.validate().is_ok());
    }
}
