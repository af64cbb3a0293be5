//! The web client at `/app/`: the files of `web/`, embedded in the binary; its
//! `config.json` (where Socket.IO is, whether "try it" works); and "try it" sign-in,
//! which mints a token on a zero-configuration single node only.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::extract::JsonBody;
use super::{data, AppS};
use crate::domain::error::{AppError, AppResult};
use crate::domain::Role;

#[derive(rust_embed::Embed)]
#[folder = "web/"]
struct Files;

/// How long a "try it" token lasts (at most the longest lifetime accepted).
const TRY_IT_TTL: Duration = Duration::from_secs(8 * 3600);

pub async fn redirect() -> Redirect {
    Redirect::permanent("/app/")
}

pub async fn index() -> Response {
    file("index.html")
}

pub async fn asset(Path(path): Path<String>) -> Response {
    file(&path)
}

fn file(path: &str) -> Response {
    let Some(f) = Files::get(path) else {
        return AppError::new(404, "not_found", "no such file").into_response();
    };
    let mime = f.metadata.mimetype().to_string();
    let mut resp = (StatusCode::OK, f.data.into_owned()).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    // Revalidated on every load: a new binary serves its own client at once.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// `GET /app/config.json`.
pub async fn config(s: AppS) -> Response {
    axum::Json(json!({
        "socketPort": s.web.socket_port.load(Ordering::Acquire),
        "socketUrl": s.web.socket_url,
        "tryIt": s.web.try_it.is_some(),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct TryIt {
    name: String,
    #[serde(default)]
    role: Option<String>,
}

/// `POST /app/try-token` `{ name, role }`: `{ token, userId }`. The user id is the name
/// in lower case with anything but letters and digits as `-`, so the same name in two
/// tabs is the same user, and others can add them by it.
pub async fn try_token(s: AppS, JsonBody(body): JsonBody) -> AppResult<Response> {
    let Some(secret) = &s.web.try_it else {
        return Err(AppError::new(
            404,
            "try_it_disabled",
            "\"try it\" works only on a single node with no configured token key",
        ));
    };
    let req: TryIt = serde_json::from_value(body)
        .map_err(|e| AppError::bad_request("invalid_payload", e.to_string()))?;
    let name = req.name.trim();
    let id: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string();
    if id.is_empty() || name.chars().count() > 60 {
        return Err(AppError::bad_request(
            "invalid_name",
            "give a name of 1 to 60 characters with a letter or digit",
        ));
    }
    let role = Role::parse(req.role.as_deref().unwrap_or("student")).ok_or_else(|| {
        AppError::bad_request("invalid_role", "role is student, teacher or admin")
    })?;
    let ttl = TRY_IT_TTL.min(Duration::from_secs(s.chat.limits.max_token_lifetime_secs));
    let token = crate::auth::mint(secret, &id, role, Some(name), ttl);
    Ok(data(200, &json!({ "token": token, "userId": id })))
}
