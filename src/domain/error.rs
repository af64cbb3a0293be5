//! The one error type: a status, a snake_case code and a message; the REST body and the
//! socket ack are its two shapes (the HTTP response is made in `http`, the mapping of
//! database errors in `storage`).

use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Seconds after which a rate-limited call may be retried.
    pub retry_after: Option<u64>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        AppError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "unauthorized", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "forbidden", message)
    }
    pub fn room_not_found() -> Self {
        Self::new(404, "room_not_found", "room not found")
    }
    pub fn message_not_found() -> Self {
        Self::new(404, "message_not_found", "message not found")
    }
    pub fn user_not_found() -> Self {
        Self::new(404, "user_not_found", "user not found")
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(409, code, message)
    }
    pub fn too_large(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(413, code, message)
    }
    pub fn rate_limited(retry_after: u64) -> Self {
        AppError {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(429, "rate_limited", "too many requests, slow down")
        }
    }
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(503, code, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "internal_error", message)
    }

    /// The socket ack shape: `{ ok: false, error: { code, message } }`.
    pub fn to_ack(&self) -> serde_json::Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(s) = self.retry_after {
            error["retryAfter"] = json!(s);
        }
        json!({ "ok": false, "error": error })
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for AppError {}
