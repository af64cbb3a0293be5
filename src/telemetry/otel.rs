//! OpenTelemetry export (the `otel` cargo feature): the `tracing` spans of classchat are sent
//! over OTLP/HTTP (protobuf) when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set. The standard variables apply: the
//! endpoint, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_SERVICE_NAME`
//! (default `classchat`), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*` (batching),
//! `OTEL_SDK_DISABLED=true` and `OTEL_TRACES_EXPORTER=none`. The batch processor runs on its
//! own thread; its requests are made by reqwest on the tokio runtime that called [`layer`].

use std::sync::Mutex;

use bytes::Bytes;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::WithHttpConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing::{Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

static PROVIDER: Mutex<Option<SdkTracerProvider>> = Mutex::new(None);

/// Posts the exporter's requests with reqwest, on the tokio runtime (the batch processor's
/// thread has none of its own).
#[derive(Debug)]
struct Client {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for Client {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let request = self
            .http
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .build()?;
        let http = self.http.clone();
        let answer = self.runtime.spawn(async move {
            let response = http.execute(request).await?;
            let (status, headers) = (response.status(), response.headers().clone());
            Ok::<_, reqwest::Error>((status, headers, response.bytes().await?))
        });
        let (status, headers, body) = answer.await??;
        let mut response = http::Response::builder().status(status).body(body)?;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

fn set(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// The export layer: `Ok(None)` when no endpoint is configured (or export is turned off),
/// `Err` when the configuration is unusable (export then stays off).
pub(super) fn layer<S>() -> Result<Option<impl Layer<S>>, String>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let endpoint = set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or(set("OTEL_EXPORTER_OTLP_ENDPOINT"));
    let disabled = set("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || set("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"));
    if endpoint.is_none() || disabled {
        return Ok(None);
    }
    let protocol = set("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or(set("OTEL_EXPORTER_OTLP_PROTOCOL"));
    if let Some(p) = protocol.filter(|p| p != "http/protobuf") {
        return Err(format!(
            "OTEL_EXPORTER_OTLP_PROTOCOL={p}: this build sends http/protobuf only"
        ));
    }
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| "no tokio runtime to send spans from".to_string())?;
    let http = reqwest::Client::builder()
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(Client { http, runtime })
        .build()
        .map_err(|e| format!("OTLP exporter: {e}"))?;
    let mut resource = Resource::builder();
    if set("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("classchat");
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer("classchat");
    *PROVIDER.lock().unwrap_or_else(|e| e.into_inner()) = Some(provider);
    let targets = Targets::new()
        .with_target("classchat", Level::INFO)
        .with_target("socketio_server", Level::INFO);
    Ok(Some(
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(targets),
    ))
}

/// Exports what is still queued and stops the exporter, within 3 s (after the drain's
/// `CLASSCHAT_SHUTDOWN_GRACE_SECS`, 25 s by default, so under Kubernetes' 30 s).
pub(super) fn shutdown() {
    let provider = PROVIDER.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(provider) = provider {
        if let Err(e) = provider.shutdown_with_timeout(std::time::Duration::from_secs(3)) {
            eprintln!("classchat: OpenTelemetry shutdown: {e}");
        }
    }
}
