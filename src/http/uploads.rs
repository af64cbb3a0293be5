//! `POST /chat/uploads` (the raw body, streamed) and `GET /chat/uploads/{id}` (with
//! `Range`, by token or signed url; never rendered inline as a page).

use axum::body::Body;
use axum::extract::{Path, Query, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use serde::Deserialize;

use super::extract::Caller;
use super::{data, AppS};
use crate::domain::attachment::AttachmentKind;
use crate::domain::error::{AppError, AppResult};
use crate::service::uploads::{ranged, DownloadAuth, Ranged, UploadRequest};

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

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

#[derive(Deserialize)]
pub struct Signed {
    exp: Option<String>,
    sig: Option<String>,
}

pub async fn download(
    s: AppS,
    Path(id): Path<String>,
    Query(q): Query<Signed>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let auth = match (q.exp, q.sig) {
        (Some(exp), Some(sig)) => DownloadAuth::Signed {
            exp: exp.parse().unwrap_or(0),
            sig,
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
