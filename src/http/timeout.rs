//! A deadline for each REST request, its body included: a client that sends its body too
//! slowly (or never) gets `408 request_timeout` and its connection closes. Uploads have a
//! deadline of their own (`CLASSCHAT_UPLOAD_TIMEOUT_MS`).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::domain::error::AppError;

pub async fn deadline(
    State((request, upload)): State<(Duration, Duration)>,
    req: Request,
    next: Next,
) -> Response {
    let is_upload = req.method() == axum::http::Method::POST && req.uri().path() == "/chat/uploads";
    let limit = if is_upload { upload } else { request };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            let mut resp = AppError::new(
                408,
                "request_timeout",
                "the request took too long to arrive",
            )
            .into_response();
            resp.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            resp
        }
    }
}
