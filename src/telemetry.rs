//! Logging and tracing: `tracing` to stderr, filtered by `RUST_LOG` (`--log-filter`), as
//! text or JSON lines (`CLASSCHAT_LOG_FORMAT=json`, with the fields of the current span and
//! its parents); with the `otel` cargo feature and `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans
//! are also exported over OTLP/HTTP (`otel`). Request spans: `http::observe`; client event
//! spans: `realtime::observe`.

#[cfg(feature = "otel")]
mod otel;

use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogArgs, LogFormat};

static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported (OpenTelemetry): spans then carry `otel.*` fields too.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Installs the subscriber; the filter was checked when the arguments were parsed.
pub fn init(log: &LogArgs) {
    let filter = EnvFilter::try_new(&log.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match log.log_format {
        LogFormat::Json => fmt.json().boxed(),
        LogFormat::Text => fmt.boxed(),
    };
    let registry = tracing_subscriber::registry().with(fmt.with_filter(filter));
    #[cfg(feature = "otel")]
    let (registry, exporter) = {
        let exporter = otel::layer();
        let error = exporter.as_ref().err().cloned();
        let layer = exporter.ok().flatten();
        EXPORTING.store(layer.is_some(), Ordering::Relaxed);
        (registry.with(layer), error)
    };
    let _ = registry.try_init();
    #[cfg(feature = "otel")]
    if let Some(e) = exporter {
        tracing::warn!("OpenTelemetry export is off: {e}");
    }
}

/// Sends the spans not exported yet (at shutdown). Blocks: call it off the async workers.
pub fn flush() {
    #[cfg(feature = "otel")]
    otel::shutdown();
}
