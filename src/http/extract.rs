//! Request extractors whose rejections speak the contract's error shape.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::app::AppState;
use crate::auth::bearer;
use crate::domain::error::AppError;
use crate::domain::Principal;

/// The authenticated caller, from `Authorization: Bearer <jwt>`.
pub struct Caller(pub Principal);

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, AppError> {
        caller_from_headers(&parts.headers, state).await.map(Caller)
    }
}

/// The caller named by `Authorization: Bearer <jwt>`.
pub async fn caller_from_headers(
    headers: &axum::http::HeaderMap,
    state: &Arc<AppState>,
) -> Result<Principal, AppError> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AppError::unauthorized("missing Authorization: Bearer token"))?;
    let token = bearer(header).ok_or_else(|| AppError::unauthorized("expected a Bearer token"))?;
    let p = state.verifier.verify(token)?;
    state.chat.remember(&p).await?;
    Ok(p)
}

/// Reads a body of at most `limit` bytes. A larger one is read on and thrown away (up to
/// `DRAIN_MAX`), so the 413 leaves the keep-alive connection usable for the next request.
async fn read_limited(body: axum::body::Body, limit: usize) -> Option<bytes::Bytes> {
    use http_body_util::BodyExt;
    const DRAIN_MAX: usize = 8 * 1024 * 1024;
    let mut body = body;
    let mut buf = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return None };
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen <= limit {
                buf.extend_from_slice(&data);
            } else if seen > limit + DRAIN_MAX {
                return None;
            }
        }
    }
    (seen <= limit).then(|| buf.freeze())
}

/// A JSON body, size-limited; bad JSON is 400 `invalid_json`, too big is 413.
pub struct JsonBody(pub Value);

/// A JSON body that may be left out (an empty body reads as `None`).
pub struct MaybeJsonBody(pub Option<Value>);

async fn read_json(req: Request, state: &Arc<AppState>) -> Result<Option<Value>, AppError> {
    let limit = state.chat.limits.max_body_bytes;
    let bytes = read_limited(req.into_body(), limit).await.ok_or_else(|| {
        AppError::too_large(
            "payload_too_large",
            format!("request body is limited to {limit} bytes"),
        )
    })?;
    if bytes.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| AppError::bad_request("invalid_json", format!("malformed JSON: {e}")))
}

impl FromRequest<Arc<AppState>> for JsonBody {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, AppError> {
        read_json(req, state).await?.map(JsonBody).ok_or_else(|| {
            AppError::bad_request("invalid_json", "request body must be a JSON object")
        })
    }
}

impl FromRequest<Arc<AppState>> for MaybeJsonBody {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, AppError> {
        Ok(MaybeJsonBody(read_json(req, state).await?))
    }
}

/// The client's address (see `client_addr`).
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        Ok(ClientAddr(crate::app::client_addr(parts)))
    }
}

/// Query parameters as strings.
pub struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let q = parts.uri.query().unwrap_or("");
        if q.to_ascii_lowercase().contains("%00") {
            return Err(AppError::bad_request(
                "invalid_query",
                "query values must not contain NUL characters",
            ));
        }
        serde_urlencoded::from_str(q).map(Params).map_err(|e| {
            AppError::bad_request("invalid_query", format!("malformed query string: {e}"))
        })
    }
}

impl Params {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
}

/// Path parameters; a malformed path is 400 `invalid_path`.
pub struct Ids<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Ids<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        // An id that cannot be text (a NUL, invalid UTF-8) names nothing: 404.
        let not_found = || AppError::new(404, "not_found", "no such resource");
        if parts.uri.path().to_ascii_lowercase().contains("%00") {
            return Err(not_found());
        }
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| Ids(t))
            .map_err(|_| not_found())
    }
}
