//! `POST /chat/uploads`: the file is checked (name, declared type against its first
//! bytes, size) and streamed into the object store part by part; whatever fails on the
//! way leaves neither a file nor a row behind.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use object_store::{ObjectStoreExt, WriteMultipart};

use super::Files;
use crate::domain::attachment::{self, Attachment};
use crate::domain::error::{AppError, AppResult};
use crate::domain::time::now_ms;
use crate::domain::Principal;
use crate::service::rooms::new_id;
use crate::service::Chat;
use crate::storage::UploadRow;

/// What the request's headers say about the file.
pub struct UploadRequest {
    pub content_type: Option<String>,
    pub file_name: Option<String>,
    pub duration_ms: Option<String>,
    pub content_length: Option<u64>,
}

/// Bytes read before the type is checked (enough for every format `infer` knows).
const SNIFF_BYTES: usize = 8192;
/// Longest voice or video message, in milliseconds (a day).
const MAX_DURATION_MS: i64 = 24 * 3600 * 1000;

fn outcome(what: &'static str) {
    metrics::counter!("classchat_uploads_total", "outcome" => what).increment(1);
}

impl Chat {
    /// Stores an upload of the caller's: its attachment, with a signed `url`.
    pub async fn upload<S, E>(
        &self,
        p: &Principal,
        req: UploadRequest,
        body: S,
    ) -> AppResult<Attachment>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let max = self.limits.uploads.max_bytes;
        let too_large = || {
            outcome("too_large");
            AppError::too_large(
                "payload_too_large",
                format!("uploads are limited to {max} bytes"),
            )
        };
        if req.content_length.is_some_and(|n| n > max) {
            return Err(too_large());
        }
        self.rate.upload(&p.user_id).await?;
        let name =
            attachment::file_name(req.file_name.as_deref().ok_or_else(|| {
                AppError::bad_request("invalid_filename", "X-Filename is required")
            })?)?;
        let declared = req
            .content_type
            .as_deref()
            .and_then(attachment::essence)
            .ok_or_else(|| {
                AppError::bad_request("invalid_content_type", "Content-Type names no media type")
            })?;
        let duration = parse_duration(req.duration_ms.as_deref())?;

        let (head, mut body) = read_head(body).await?;
        if head.len() as u64 > max {
            return Err(too_large());
        }
        let sniffed = infer::get(&head).map(|t| t.mime_type());
        let kind = attachment::verify_type(&declared, sniffed).inspect_err(|_| {
            outcome("type_refused");
        })?;
        let row = UploadRow {
            id: new_id(),
            uploader_id: p.user_id.clone(),
            name,
            content_type: declared,
            kind: kind.as_str().to_string(),
            size: 0,
            duration_ms: duration.filter(|_| kind.is_media()),
            complete: false,
            created_at: now_ms(),
        };
        self.store.begin_upload(&row).await?;
        match self.files.write(&row.id, head, &mut body, max).await {
            Ok(size) => {
                self.store.complete_upload(&row.id, size as i64).await?;
                outcome("stored");
                metrics::counter!("classchat_upload_bytes_total").increment(size);
                let mut a = UploadRow {
                    size: size as i64,
                    complete: true,
                    ..row
                }
                .attachment();
                a.url = self.files.signer.url(&a.id, (now_ms() / 1000) as u64);
                Ok(a)
            }
            Err(e) => {
                // The file was aborted: the row goes too (the sweep would find it later).
                if let Err(db) = self.store.delete_upload(&row.id).await {
                    tracing::warn!(error = %db, "an aborted upload's row stays for the sweep");
                }
                if e.status == 413 {
                    return Err(too_large());
                }
                outcome("failed");
                Err(e)
            }
        }
    }
}

/// `X-Duration-Ms`: a whole number of milliseconds, at most a day.
fn parse_duration(v: Option<&str>) -> AppResult<Option<i64>> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match v.parse::<i64>() {
        Ok(ms) if (0..=MAX_DURATION_MS).contains(&ms) => Ok(Some(ms)),
        _ => Err(AppError::bad_request(
            "invalid_duration",
            format!("X-Duration-Ms must be a whole number of milliseconds, 0 to {MAX_DURATION_MS}"),
        )),
    }
}

/// The first bytes of the body (up to `SNIFF_BYTES`, fewer if it ends), and the rest.
async fn read_head<S, E>(mut body: S) -> AppResult<(Vec<u8>, ChainRest<S>)>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    while head.len() < SNIFF_BYTES {
        match body.next().await {
            Some(Ok(b)) => head.extend_from_slice(&b),
            Some(Err(e)) => return Err(body_error(e)),
            None => break,
        }
    }
    Ok((head, ChainRest(body)))
}

/// The body after its head.
pub(super) struct ChainRest<S>(S);

impl<S, E> ChainRest<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    async fn next(&mut self) -> Option<AppResult<Bytes>> {
        self.0.next().await.map(|r| r.map_err(body_error))
    }
}

fn body_error(e: impl std::fmt::Display) -> AppError {
    AppError::bad_request(
        "body_incomplete",
        format!("the upload did not arrive whole: {e}"),
    )
}

impl Files {
    /// Streams `head` and the rest of the body into the store: its size. Past `max`
    /// bytes, or on any error, the multipart upload is aborted (nothing is kept).
    async fn write<S, E>(
        &self,
        id: &str,
        head: Vec<u8>,
        rest: &mut ChainRest<S>,
        max: u64,
    ) -> AppResult<u64>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let store_err = |e: object_store::Error| {
            tracing::error!(error = %e, "upload store failed");
            AppError::unavailable(
                "upload_store_unavailable",
                "the file store failed, retry later",
            )
        };
        let upload = self
            .objects
            .put_multipart(&self.path(id))
            .await
            .map_err(store_err)?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, self.chunk);
        let mut size = head.len() as u64;
        w.write(&head);
        let failed = loop {
            match rest.next().await {
                None => break None,
                Some(Err(e)) => break Some(e),
                Some(Ok(b)) => {
                    size += b.len() as u64;
                    if size > max {
                        break Some(AppError::too_large("payload_too_large", "too large"));
                    }
                    // Backpressure: at most two parts in flight.
                    if let Err(e) = w.wait_for_capacity(2).await {
                        break Some(store_err(e));
                    }
                    w.put(b);
                }
            }
        };
        match failed {
            Some(e) => {
                if let Err(abort) = w.abort().await {
                    tracing::warn!(error = %abort, "aborting an upload failed");
                }
                Err(e)
            }
            None => {
                w.finish().await.map_err(store_err)?;
                Ok(size)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::attachment::AttachmentKind;

    #[test]
    fn a_duration_is_whole_milliseconds_up_to_a_day() {
        assert_eq!(parse_duration(None).unwrap(), None);
        assert_eq!(parse_duration(Some(" 1500 ")).unwrap(), Some(1500));
        for bad in ["-1", "1.5", "abc", "86400001"] {
            assert_eq!(
                parse_duration(Some(bad)).unwrap_err().code,
                "invalid_duration"
            );
        }
    }

    #[test]
    fn only_media_kinds_carry_a_duration() {
        assert!(AttachmentKind::Audio.is_media() && !AttachmentKind::Image.is_media());
    }
}
