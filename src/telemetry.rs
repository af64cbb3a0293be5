//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (`--log-filter`), JSON lines with `CLASSCHAT_LOG_FORMAT=json`.

use tracing_subscriber::EnvFilter;

use crate::config::{LogArgs, LogFormat};

/// Installs the subscriber; the filter was checked when the arguments were parsed.
pub fn init(log: &LogArgs) {
    let filter = EnvFilter::try_new(&log.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match log.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
