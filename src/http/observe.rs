//! What every REST request leaves behind: a `http_request` span (method, route template,
//! status) around its handling, the request count and duration by route template, and a
//! debug event when it is answered (`RUST_LOG=classchat::http=debug` is an access log).
//! Every label is bounded: a method other than the standard ones, and a path no route
//! matched, count as `other`; ids stay in the path, never in a label or the route field.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::field::Empty;
use tracing::Instrument;

/// The span of one request; `status` is recorded once the response is ready.
fn request_span(method: &str, route: &str) -> tracing::Span {
    let span = tracing::info_span!(
        "http_request",
        method,
        route,
        status = Empty,
        otel.name = Empty,
        otel.kind = Empty,
        otel.status_code = Empty,
    );
    if crate::telemetry::exporting() {
        span.record("otel.name", format!("{method} {route}"));
        span.record("otel.kind", "server");
    }
    span
}

/// The middleware: span, metrics and the access-log event.
pub(super) async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "other".into());
    let method = method_label(req.method());
    let span = request_span(method, &route);
    let start = Instant::now();
    let resp = next.run(req).instrument(span.clone()).await;
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    span.record("status", i64::from(status));
    if status >= 500 && crate::telemetry::exporting() {
        span.record("otel.status_code", "ERROR");
    }
    span.in_scope(|| {
        tracing::debug!(
            elapsed_ms = elapsed.as_micros() as f64 / 1000.0,
            "answered {status}"
        )
    });
    let labels = [
        ("method", method.to_string()),
        ("route", route),
        ("status", status.to_string()),
    ];
    metrics::histogram!("classchat_http_request_duration_seconds", &labels)
        .record(elapsed.as_secs_f64());
    metrics::counter!("classchat_http_requests_total", &labels).increment(1);
    resp
}

/// The method as a metric label: a standard method, else `other`.
fn method_label(m: &axum::http::Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}
