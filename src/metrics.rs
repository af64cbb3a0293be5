//! Prometheus metrics: the recorder, metric descriptions, and the :9464 `/metrics` endpoint.

mod zero;

pub use zero::RATE_LIMIT_KINDS;

use std::sync::OnceLock;

use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global recorder once per process and returns its handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let latency = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ];
            let fanout = [
                1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 5000.0,
            ];
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &latency)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_sockets".into()), &fanout))
                .expect("bucket lists are not empty")
                .install_recorder()
                .expect("the metrics recorder is installed once");
            describe();
            zero::zero_series();
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_gauge!(
        "classchat_socket_connections",
        "Socket.IO connections open on this node"
    );
    describe_gauge!(
        "classchat_online_users",
        "Distinct users with a socket on this node"
    );
    describe_gauge!(
        "classchat_ready",
        "1 while this node is ready for traffic, 0 while starting or draining"
    );
    describe_gauge!(
        "classchat_redis_connected",
        "1 while the Redis client (publisher, subscriber) is connected"
    );
    describe_counter!(
        "classchat_socket_connects_total",
        "Authenticated Socket.IO connections accepted"
    );
    describe_counter!(
        "classchat_socket_events_total",
        "Client events received, by event name"
    );
    describe_counter!(
        "classchat_socket_errors_total",
        "Client events answered with an error, by event and code"
    );
    describe_histogram!(
        "classchat_socket_event_duration_seconds",
        Unit::Seconds,
        "Time to handle a client event"
    );
    describe_counter!("classchat_messages_stored_total", "Messages persisted");
    describe_counter!(
        "classchat_catchup_replayed_total",
        "Messages replayed by join-chat-rooms catch-up"
    );
    describe_histogram!(
        "classchat_search_duration_seconds",
        Unit::Seconds,
        "Database time of one message search (GET /chat/search)"
    );
    describe_counter!(
        "classchat_search_timeouts_total",
        "Searches cancelled at CLASSCHAT_SEARCH_TIMEOUT_MS (answered 503 search_timeout)"
    );
    describe_counter!(
        "classchat_events_emitted_total",
        "Server events published, by event name"
    );
    describe_counter!(
        "classchat_broadcasts_total",
        "Broadcasts delivered to this node's sockets, by target kind (room, user, members)"
    );
    describe_histogram!(
        "classchat_broadcast_fanout_sockets",
        "Local sockets reached by one broadcast"
    );
    describe_histogram!(
        "classchat_http_request_duration_seconds",
        Unit::Seconds,
        "REST request duration by route template"
    );
    describe_counter!(
        "classchat_http_requests_total",
        "REST requests by method, route template and status"
    );
    describe_counter!(
        "classchat_connections_refused_total",
        "Connections refused at accept (503) because CLASSCHAT_MAX_CONNECTIONS were open"
    );
    describe_gauge!(
        "classchat_connections_open",
        "Connections open on the three ports (REST, Socket.IO, metrics)"
    );
    describe_gauge!(
        "classchat_connections_max",
        "The connection limit (CLASSCHAT_MAX_CONNECTIONS)"
    );
    describe_counter!(
        "classchat_rate_limited_total",
        "Requests refused by a rate limit, by kind"
    );
    describe_counter!(
        "classchat_status_coalesced_total",
        "Status changes not announced on their own: replaced by a later change of the same user before they went out"
    );
    describe_counter!(
        "classchat_rate_limit_fallback_total",
        "Per-user rate-limit checks made in this node's own buckets because the cluster-wide ones (Redis) could not answer"
    );
    describe_counter!(
        "classchat_contacts_dropped_total",
        "Status updates for contacts dropped because this node's contacts queue was full"
    );
    crate::backplane::describe_metrics();
    crate::backplane::heal::describe_metrics();
    crate::service::describe_meeting_metrics();
    crate::service::uploads::describe_upload_metrics();
    crate::service::describe_webhook_metrics();
}

/// The metrics router (`GET /metrics`).
pub fn router(handle: PrometheusHandle) -> Router {
    Router::new().route("/metrics", get(move || async move { handle.render() }))
}
