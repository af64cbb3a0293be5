//! Settings of uploads: where files are stored, how large they may be, how long their
//! signed links last, and when never-attached uploads are swept away.

use clap::Args;

use super::parse::positive;
use crate::domain::limits::{Rate, UploadLimits};

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Uploads")]
pub struct UploadArgs {
    /// Where uploads are stored: a directory (default: uploads/ in the data directory), file:///path, or an S3-compatible bucket s3://bucket/prefix (credentials and endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT, AWS_ALLOW_HTTP; see docs/UPLOADS.md)
    #[arg(
        long,
        env = "CLASSCHAT_UPLOADS_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub uploads_url: Option<String>,
    /// Largest upload, in bytes (413 past it, nothing kept)
    #[arg(long, env = "CLASSCHAT_MAX_UPLOAD_BYTES", value_name = "BYTES", default_value = "26214400", value_parser = positive::<u64>)]
    pub max_upload_bytes: u64,
    /// Attachments on one message at most
    #[arg(long, env = "CLASSCHAT_MAX_ATTACHMENTS", value_name = "N", default_value = "10", value_parser = positive::<usize>)]
    pub max_attachments: usize,
    /// Uploads per user per second, sustained
    #[arg(long, env = "CLASSCHAT_RATE_UPLOAD_PER_SEC", value_name = "N", default_value = "2", value_parser = positive::<u32>)]
    pub rate_upload_per_sec: u32,
    /// Uploads per user, burst
    #[arg(long, env = "CLASSCHAT_RATE_UPLOAD_BURST", value_name = "N", default_value = "20", value_parser = positive::<u32>)]
    pub rate_upload_burst: u32,
    /// How long an attachment's signed url works, in seconds
    #[arg(long, env = "CLASSCHAT_UPLOAD_URL_TTL_SECS", value_name = "SECS", default_value = "86400", value_parser = positive::<u64>)]
    pub upload_url_ttl_secs: u64,
    /// An upload not attached to any message within this many seconds is removed
    #[arg(long, env = "CLASSCHAT_UPLOAD_ORPHAN_SECS", value_name = "SECS", default_value = "86400", value_parser = positive::<u64>)]
    pub upload_orphan_secs: u64,
    /// How often the sweep for never-attached uploads runs, in seconds
    #[arg(long, env = "CLASSCHAT_UPLOAD_SWEEP_SECS", value_name = "SECS", default_value = "3600", value_parser = positive::<u64>)]
    pub upload_sweep_secs: u64,
    /// Key of the attachment urls' signatures, at least 32 bytes; the same on every node (default: derived from the HS256 secret; with a public key and no secret, a key per process)
    #[arg(
        long,
        env = "CLASSCHAT_UPLOAD_URL_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub upload_url_secret: Option<String>,
}

impl UploadArgs {
    pub fn limits(&self) -> UploadLimits {
        UploadLimits {
            max_bytes: self.max_upload_bytes,
            max_attachments: self.max_attachments,
            rate: Rate::new(self.rate_upload_per_sec, self.rate_upload_burst),
            url_ttl_secs: self.upload_url_ttl_secs,
            orphan_secs: self.upload_orphan_secs,
            sweep_secs: self.upload_sweep_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Command, FromArgMatches};

    #[test]
    fn the_defaults_are_the_documented_limits() {
        let cmd = UploadArgs::augment_args(Command::new("serve")).mut_args(|a| a.env(None::<&str>));
        let m = cmd.try_get_matches_from(["serve"]).expect("defaults parse");
        let a = UploadArgs::from_arg_matches(&m).expect("defaults");
        assert_eq!(a.limits(), UploadLimits::default());
        assert!(a.uploads_url.is_none() && a.upload_url_secret.is_none());
    }
}
