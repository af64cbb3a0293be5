//! `GET /chat/uploads/{id}`: who may download a file (its uploader, members of a room it
//! was posted in, admins, or anyone holding a signed url), and the requested byte range.

use std::ops::Range;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use object_store::{GetOptions, GetRange};

use crate::domain::error::{AppError, AppResult};
use crate::domain::time::now_ms;
use crate::domain::Principal;
use crate::service::Chat;
use crate::storage::UploadRow;

/// How the caller proves it may read the file.
pub enum DownloadAuth {
    Token(Principal),
    Signed { exp: u64, sig: String },
}

/// A file (or a range of it) to send.
pub struct Download {
    pub upload: UploadRow,
    /// `Some`: the part asked for by `Range` (a 206); `None`: the whole file.
    pub range: Option<Range<u64>>,
    pub body: BoxStream<'static, Result<Bytes, std::io::Error>>,
}

/// What a `Range` header asked for, once checked against the size.
pub enum Ranged {
    Whole,
    Part(Range<u64>),
    /// 416: no byte of it is in the file.
    Unsatisfiable,
}

/// One `bytes=` range, as `http-range-header` reads it; several ranges, or a header it
/// cannot read, are answered with the whole file (RFC 9110 lets a server ignore Range).
pub fn ranged(header: Option<&str>, size: u64) -> Ranged {
    let Some(h) = header else {
        return Ranged::Whole;
    };
    let Ok(parsed) = http_range_header::parse_range_header(h) else {
        return Ranged::Whole;
    };
    match parsed.validate(size) {
        Ok(ranges) if ranges.len() == 1 => {
            let r = &ranges[0];
            Ranged::Part(*r.start()..r.end() + 1)
        }
        Ok(_) => Ranged::Whole,
        Err(_) => Ranged::Unsatisfiable,
    }
}

impl Chat {
    /// The upload if this caller may read it; anyone else is told it does not exist.
    pub async fn upload_for(&self, id: &str, auth: &DownloadAuth) -> AppResult<UploadRow> {
        let missing = || AppError::new(404, "upload_not_found", "no such upload");
        if id.len() > 64 {
            return Err(missing());
        }
        let upload = self
            .store
            .get_upload(id)
            .await?
            .filter(|u| u.complete)
            .ok_or_else(missing)?;
        let allowed = match auth {
            DownloadAuth::Signed { exp, sig } => {
                self.files
                    .signer
                    .check(id, *exp, sig, (now_ms() / 1000) as u64)
            }
            DownloadAuth::Token(p) if p.user_id == upload.uploader_id => true,
            DownloadAuth::Token(p) if p.is_admin() => self.store.upload_posted(id).await?,
            DownloadAuth::Token(p) => self.store.shares_upload(id, &p.user_id).await?,
        };
        if allowed {
            Ok(upload)
        } else {
            Err(missing())
        }
    }

    /// Opens the file for reading, whole or the part `range` names.
    pub async fn download(
        &self,
        upload: UploadRow,
        range: Option<Range<u64>>,
    ) -> AppResult<Download> {
        let opts = GetOptions {
            range: range.clone().map(GetRange::Bounded),
            ..Default::default()
        };
        let got = self
            .files
            .objects
            .get_opts(&self.files.path(&upload.id), opts)
            .await
            .map_err(|e| match e {
                object_store::Error::NotFound { .. } => {
                    tracing::warn!(upload = %upload.id, "an upload's file is missing");
                    AppError::new(404, "upload_not_found", "no such upload")
                }
                e => {
                    tracing::error!(error = %e, "reading an upload failed");
                    AppError::unavailable(
                        "upload_store_unavailable",
                        "the file store failed, retry later",
                    )
                }
            })?;
        let body = got
            .into_stream()
            .map(|r| r.map_err(std::io::Error::other))
            .boxed();
        Ok(Download {
            upload,
            range,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_range_is_served_and_others_fall_back_or_fail() {
        let part = |h: &str| match ranged(Some(h), 1000) {
            Ranged::Part(r) => Some(r),
            Ranged::Whole => None,
            Ranged::Unsatisfiable => Some(0..0),
        };
        assert_eq!(part("bytes=0-99"), Some(0..100));
        assert_eq!(part("bytes=900-"), Some(900..1000));
        assert_eq!(part("bytes=-10"), Some(990..1000));
        assert_eq!(
            part("bytes=0-1,5-6"),
            None,
            "several ranges: the whole file"
        );
        assert_eq!(part("items=0-1"), None, "not bytes: the whole file");
        assert_eq!(part("bytes=2000-3000"), Some(0..0), "past the end: 416");
        assert!(matches!(ranged(None, 10), Ranged::Whole));
    }
}
