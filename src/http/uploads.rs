//! `POST /chat/uploads` (the raw body, streamed) and `GET /chat/uploads/{id}` (with
//! `Range`, by token or signed url; never rendered inline as a page).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;

use super::extract::{Caller, Ids, Params};
use super::openapi::params::{SignedUrl, UploadPath};
use super::{data, AppS, Data};
use crate::domain::attachment::{Attachment, AttachmentKind};
use crate::domain::error::{AppError, AppResult};
use crate::service::uploads::{ranged, DownloadAuth, Ranged, UploadRequest};

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Uploads a file: the raw body (no multipart form), streamed into the store.
#[utoipa::path(post, path = "/chat/uploads", tag = "uploads", security(("bearer" = [])),
    params(
        ("X-Filename" = String, Header, description = "A bare file name, UTF-8 percent-encoded, at most 255 bytes"),
        ("X-Duration-Ms" = Option<String>, Header, description = "Audio and video: whole milliseconds, 0 to 86400000"),
    ),
    request_body(description = "The file's bytes; `Content-Type` is its media type, checked against the bytes",
        content(("application/octet-stream"), ("text/plain"), ("image/png"), ("audio/webm"))),
    responses(
        (status = 201, description = "The stored upload, to attach to a message", body = Data<Attachment>),
        (status = 400, description = "`invalid_filename`: `X-Filename` missing or not a bare name; `invalid_content_type`: `Content-Type` missing or not a media type; `invalid_duration`: `X-Duration-Ms` out of range; `body_incomplete`: the body broke off"),
        (status = 413, description = "`payload_too_large`: over `CLASSCHAT_MAX_UPLOAD_BYTES`"),
        (status = 415, description = "`content_type_mismatch`: the bytes contradict the declared type"),
        (status = 429, description = "`rate_limited`: over the upload rate"),
        (status = 503, description = "`upload_store_unavailable`: the store failed"),
    ))]
pub async fn upload(s: AppS, Caller(p): Caller, req: Request) -> AppResult<Response> {
    let h = req.headers();
    let meta = UploadRequest {
        content_type: header_str(h, "content-type"),
        file_name: header_str(h, "x-filename"),
        duration_ms: header_str(h, "x-duration-ms"),
        content_length: header_str(h, "content-length").and_then(|v| v.parse().ok()),
    };
    let body = req.into_body().into_data_stream();
    let attachment = s
        .chat
        .upload(&p, meta, body.map_err(|e| e.to_string()))
        .await?;
    Ok(data(201, &attachment))
}

/// Downloads a file, by token or signed url (`exp` and `sig`), whole or a `Range`.
#[utoipa::path(get, path = "/chat/uploads/{uploadId}", tag = "uploads",
    security(("bearer" = []), ()), params(UploadPath, SignedUrl,
        ("Range" = Option<String>, Header, description = "`bytes=a-b`, `bytes=a-` or `bytes=-n`")),
    responses(
        (status = 200, description = "The whole file, in its stored type", content(("*/*")),
            headers(("Accept-Ranges" = String), ("Content-Disposition" = String))),
        (status = 206, description = "The range asked for", content(("*/*")),
            headers(("Content-Range" = String, description = "`bytes a-b/size`"))),
        (status = 400, description = "`invalid_query`: a malformed query string"),
        (status = 404, description = "`upload_not_found`: no such upload, one the caller may not read, or a bad or expired signed url"),
        (status = 416, description = "`range_not_satisfiable`: the range starts past the end",
            headers(("Content-Range" = String, description = "`bytes */size`"))),
        (status = 503, description = "`upload_store_unavailable`: the store failed"),
    ))]
pub async fn download(
    s: AppS,
    Ids(id): Ids<String>,
    q: Params,
    headers: HeaderMap,
) -> AppResult<Response> {
    let auth = match (q.get("exp"), q.get("sig")) {
        (Some(exp), Some(sig)) => DownloadAuth::Signed {
            exp: exp.parse().unwrap_or(0),
            sig: sig.to_string(),
        },
        _ => {
            let p = super::extract::caller_from_headers(&headers, &s).await?;
            DownloadAuth::Token(p)
        }
    };
    let upload = s.chat.upload_for(&id, &auth).await?;
    let size = upload.size as u64;
    let range = match ranged(header_str(&headers, "range").as_deref(), size) {
        Ranged::Whole => None,
        Ranged::Part(r) => Some(r),
        Ranged::Unsatisfiable => {
            let mut resp = AppError::new(
                416,
                "range_not_satisfiable",
                "the range is past the file's end",
            )
            .into_response();
            set(&mut resp, header::CONTENT_RANGE, &format!("bytes */{size}"));
            return Ok(resp);
        }
    };
    let dl = s.chat.download(upload, range).await?;
    let (status, length) = match &dl.range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.end - r.start),
        None => (StatusCode::OK, size),
    };
    let mut resp = Response::new(Body::from_stream(dl.body));
    *resp.status_mut() = status;
    let u = &dl.upload;
    let kind = AttachmentKind::parse(&u.kind);
    // Only verified images, audio and video show in the page; anything else downloads,
    // and nothing is ever sniffed or run as a page of this origin.
    let disposition = if matches!(kind, AttachmentKind::File) || u.content_type == "image/svg+xml" {
        "attachment"
    } else {
        "inline"
    };
    set(&mut resp, header::CONTENT_TYPE, &u.content_type);
    set(&mut resp, header::CONTENT_LENGTH, &length.to_string());
    set(&mut resp, header::ACCEPT_RANGES, "bytes");
    set(
        &mut resp,
        header::CONTENT_DISPOSITION,
        &format!("{disposition}; filename*=UTF-8''{}", pct(&u.name)),
    );
    set(&mut resp, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        &mut resp,
        header::CONTENT_SECURITY_POLICY,
        "sandbox; default-src 'none'",
    );
    set(&mut resp, header::CACHE_CONTROL, "private, max-age=3600");
    if let Some(r) = &dl.range {
        set(
            &mut resp,
            header::CONTENT_RANGE,
            &format!("bytes {}-{}/{size}", r.start, r.end - 1),
        );
    }
    Ok(resp)
}

fn set(resp: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

/// RFC 5987 percent-encoding of a file name.
fn pct(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
