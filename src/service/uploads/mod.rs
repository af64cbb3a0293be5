//! Uploads: files streamed into the object store (a directory, or an S3-compatible
//! bucket) without being held in memory, checked against their declared type, and served
//! back with `Range` to those who may read them.

mod serve;
mod sign;
mod store;
mod sweep;

use std::sync::Arc;

use object_store::path::Path;
use object_store::ObjectStore;

pub use serve::{ranged, Download, DownloadAuth, Ranged};
pub use sign::UrlSigner;
pub use store::UploadRequest;
pub use sweep::{describe_upload_metrics, upload_sweep, zero_upload_metrics};

use super::Chat;
use crate::domain::Message;

/// Where uploaded files live, and how their urls are signed.
#[derive(Clone, Debug)]
pub struct Files {
    objects: Arc<dyn ObjectStore>,
    prefix: Path,
    signer: UrlSigner,
    /// Bytes sent to the store per part: small for a local directory, 8 MiB for S3
    /// (whose parts but the last must be at least 5 MiB).
    chunk: usize,
}

impl Files {
    /// `None`: the `uploads/` directory in `data_dir`. A path or `file://` URL: that
    /// directory. `s3://bucket/prefix`: that bucket, configured by the `AWS_*` variables.
    pub fn open(
        url: Option<&str>,
        data_dir: &std::path::Path,
        signer: UrlSigner,
    ) -> Result<Files, String> {
        let err = |e: &dyn std::fmt::Display| format!("CLASSCHAT_UPLOADS_URL: {e}");
        match url {
            Some(u) if u.starts_with("s3://") => {
                let parsed = url::Url::parse(u).map_err(|e| err(&e))?;
                let objects = object_store::aws::AmazonS3Builder::from_env()
                    .with_url(u)
                    .build()
                    .map_err(|e| err(&e))?;
                let prefix = Path::parse(parsed.path().trim_matches('/')).map_err(|e| err(&e))?;
                Ok(Files {
                    objects: Arc::new(objects),
                    prefix,
                    signer,
                    chunk: 8 * 1024 * 1024,
                })
            }
            Some(u) if u.contains("://") && !u.starts_with("file://") => Err(err(
                &"give a directory, a file:// URL or an s3://bucket/prefix URL",
            )),
            other => {
                let dir = match other {
                    Some(u) => std::path::PathBuf::from(u.trim_start_matches("file://")),
                    None => data_dir.join("uploads"),
                };
                std::fs::create_dir_all(&dir)
                    .map_err(|e| err(&format!("cannot create {}: {e}", dir.display())))?;
                let objects = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                    .map_err(|e| err(&e))?
                    .with_automatic_cleanup(true);
                Ok(Files {
                    objects: Arc::new(objects),
                    prefix: Path::default(),
                    signer,
                    chunk: 256 * 1024,
                })
            }
        }
    }

    /// Files kept in memory (tests and embedding without a data directory).
    pub fn in_memory() -> Files {
        Files {
            objects: Arc::new(object_store::memory::InMemory::new()),
            prefix: Path::default(),
            signer: UrlSigner::random(3600),
            chunk: 256 * 1024,
        }
    }

    fn path(&self, id: &str) -> Path {
        self.prefix.clone().join(id)
    }

    pub fn signer(&self) -> UrlSigner {
        self.signer.clone()
    }

    /// Which kind of store this is, for the start-up log.
    pub fn describe(&self) -> String {
        self.objects.to_string()
    }
}

impl Chat {
    /// Fills the signed `url` of each attachment of these messages.
    pub fn sign_attachments(&self, messages: &mut [Message]) {
        self.files.signer.sign(messages);
    }
}
