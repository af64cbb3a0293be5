//! The web client at `/app/`: the files of `web/`, embedded in the binary; its
//! `config.json` (where Socket.IO is, whether "try it" works); and "try it" sign-in,
//! which mints a token on a zero-configuration single node only.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::extract::JsonBody;
use super::{data, AppS, Data};
use crate::domain::error::{AppError, AppResult};
use crate::domain::Role;

#[derive(rust_embed::Embed)]
#[folder = "web/"]
struct Files;

/// How long a "try it" token lasts (at most the longest lifetime accepted).
const TRY_IT_TTL: Duration = Duration::from_secs(8 * 3600);

/// To `/app/`.
#[utoipa::path(get, path = "/app", tag = "web client",
    responses((status = 308, description = "To `/app/`", headers(("Location" = String)))))]
pub async fn redirect() -> Redirect {
    Redirect::permanent("/app/")
}

/// The web client's page.
#[utoipa::path(get, path = "/app/", tag = "web client",
    responses((status = 200, description = "index.html", content(("text/html")))))]
pub async fn index() -> Response {
    file("index.html")
}

/// One file of the web client (scripts, styles, icons), in its own type.
#[utoipa::path(get, path = "/app/{path}", tag = "web client",
    params(("path" = String, Path, description = "The file's path under `web/`")),
    responses(
        (status = 200, description = "The file", content(("*/*"))),
        (status = 404, description = "`not_found`: no such file"),
    ))]
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

/// What the web client needs to know (`GET /app/config.json`).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebConfig {
    /// The Socket.IO port of this node.
    socket_port: u16,
    /// Where Socket.IO is, when it is not this host at `socketPort`.
    #[schema(required = true)]
    socket_url: Option<String>,
    /// Whether "try it" sign-in works here.
    try_it: bool,
}

/// Where Socket.IO is and whether "try it" works (no token).
#[utoipa::path(get, path = "/app/config.json", tag = "web client",
    responses((status = 200, description = "The web client's settings", body = WebConfig)))]
pub async fn config(s: AppS) -> Response {
    axum::Json(WebConfig {
        socket_port: s.web.socket_port.load(Ordering::Acquire),
        socket_url: s.web.socket_url.clone(),
        try_it: s.web.try_it.is_some(),
    })
    .into_response()
}

/// A "try it" sign-in.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct TryIt {
    /// 1–60 characters with a letter or digit; the user id is made from it.
    name: String,
    /// `student` (the default), `teacher` or `admin`.
    #[serde(default)]
    role: Option<String>,
}

/// A minted token and the user id it names.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TryToken {
    token: String,
    user_id: String,
}

/// `POST /app/try-token` `{ name, role }`: `{ token, userId }`. The user id is the name
/// in lower case with anything but letters and digits as `-`, so the same name in two
/// tabs is the same user, and others can add them by it.
#[utoipa::path(post, path = "/app/try-token", tag = "web client", request_body = TryIt,
    responses(
        (status = 200, description = "A token for 8 hours", body = Data<TryToken>),
        (status = 400, description = "`invalid_name`: no letter or digit, or over 60 characters; `invalid_role`: not student, teacher or admin"),
        (status = 404, description = "`try_it_disabled`: only on a zero-configuration single node"),
    ))]
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
    Ok(data(200, &TryToken { token, user_id: id }))
}
