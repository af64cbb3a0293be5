//! Path and query parameters as the document describes them. The handlers read them
//! with `Ids` and `Params` (`extract.rs`), which answer the contract's error shape;
//! these types exist for the document only.
#![allow(dead_code)]

use utoipa::IntoParams;

#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct RoomPath {
    /// The room's id (opaque). One the caller may not see is `room_not_found`.
    room_id: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct MessagePath {
    /// The message's id (opaque).
    message_id: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct UserPath {
    /// A user id: the `sub` of the platform's tokens.
    user_id: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct UploadPath {
    /// The upload's id (an attachment's `id`).
    upload_id: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EmojiPath {
    /// One emoji (one grapheme cluster, at most 64 bytes), percent-encoded.
    emoji: String,
}

/// A page of 1–100 (default 50).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page50 {
    /// Page size, 1–100; 50 when left out.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// The `nextCursor` of the previous page, passed back unchanged.
    cursor: Option<String>,
}

/// A page of 1–100 (default 20).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page20 {
    /// Page size, 1–100; 20 when left out.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// The `nextCursor` of the previous page, passed back unchanged.
    cursor: Option<String>,
}

/// A page of members, 1–500 (default 100).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemberPage {
    /// Page size, 1–500; 100 when left out.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// A `nextCursor`, or a room detail's `membersNextCursor`.
    cursor: Option<String>,
}

/// `GET …/messages`: newest first before a `seq`, or oldest first after one.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Messages with a lower `seq`, newest first (the default: from the newest).
    #[param(minimum = 0)]
    before: Option<i64>,
    /// Messages with a higher `seq`, oldest first (not with `before`).
    #[param(minimum = 0)]
    after: Option<i64>,
    /// Page size, 1–100; 50 when left out.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// `GET /chat/search`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The query: 1–256 characters after trimming (`CLASSCHAT_SEARCH_MAX_QUERY_CHARS`).
    #[param(min_length = 1, max_length = 256, pattern = "\\S")]
    q: String,
    /// Only this room.
    #[param(rename = "roomId")]
    room_id: Option<String>,
    /// Page size, 1–100; 20 when left out.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// `GET /chat/admin/webhooks`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WebhookQuery {
    /// Which deliveries: `failed` (the default), `pending` or `delivered`.
    #[param(pattern = "^(failed|pending|delivered)$")]
    status: Option<String>,
    /// Page size, 1–200; 50 when left out.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// `GET /chat/uploads/{uploadId}`: the signed url's parameters (instead of a token).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedUrl {
    /// Until when the url works, in Unix seconds.
    exp: Option<String>,
    /// HMAC-SHA256 of the id and `exp`, hex.
    sig: Option<String>,
}
