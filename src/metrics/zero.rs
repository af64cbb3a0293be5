//! Every series a dashboard or an alert reads exists from start-up with value 0: a counter
//! that appears only with its first event is invisible to `increase()` and `rate()` until
//! its second, and an alert on it sees no series at all. Labelled series are registered for
//! every value of a bounded label (or, where the cross product would be large, for the values
//! the dashboard and alerts select). Histograms are registered without an observation: the
//! exporter renders them with every bucket, `_sum` and `_count` at 0.

use metrics::{counter, gauge, histogram};

use crate::domain::events::{ClientEventName, SERVER_EVENTS};

/// Error codes of client events that every event can get (the server's own failures, which
/// the socket error-rate alert counts); `meetings_unavailable` is added for meeting events.
pub const SERVER_ERROR_CODES: &[&str] = &["internal_error", "database_unavailable"];

/// The `kind` label of `classchat_rate_limited_total`: every limit of `service::ratelimit`.
pub const RATE_LIMIT_KINDS: &[&str] = &[
    "send",
    "typing",
    "send_ip",
    "typing_ip",
    "connect_ip",
    "connect",
    "status",
    "room_create",
    "member_add",
    "online_users",
    "signal",
    "meeting",
    "upload",
    "search",
];

/// The probe series the readiness alert selects: `GET /readyz` answered 200 or 503, and
/// `GET /healthz` answered 200. Other REST series appear with their first request (method ×
/// route × status has no useful bound to register ahead).
const PROBES: &[(&str, &str)] = &[("/readyz", "200"), ("/readyz", "503"), ("/healthz", "200")];

pub fn zero_series() {
    for event in SERVER_EVENTS {
        counter!("classchat_events_emitted_total", "event" => *event).increment(0);
    }
    for kind in crate::backplane::TARGET_KINDS {
        counter!("classchat_broadcasts_total", "kind" => *kind).increment(0);
    }
    let _ = histogram!("classchat_broadcast_fanout_sockets");
    sockets();
    for (route, status) in PROBES {
        let labels = [("method", "GET"), ("route", route), ("status", status)];
        counter!("classchat_http_requests_total", &labels).increment(0);
        let _ = histogram!("classchat_http_request_duration_seconds", &labels);
    }
    for kind in RATE_LIMIT_KINDS {
        counter!("classchat_rate_limited_total", "kind" => *kind).increment(0);
    }
    for name in [
        "classchat_messages_stored_total",
        "classchat_status_coalesced_total",
        "classchat_contacts_dropped_total",
        "classchat_rate_limit_fallback_total",
        "classchat_search_timeouts_total",
        "classchat_catchup_replayed_total",
        "classchat_connections_refused_total",
    ] {
        counter!(name).increment(0);
    }
    let _ = histogram!("classchat_search_duration_seconds");
    gauge!("classchat_online_users").set(0.0);
    gauge!("classchat_ready").set(0.0);
    crate::backplane::zero_metrics();
    crate::backplane::heal::zero_metrics();
    crate::service::zero_meeting_metrics();
    crate::service::uploads::zero_upload_metrics();
    crate::service::zero_webhook_metrics();
}

/// Socket.IO: connections, and per client event its count, duration and server errors.
fn sockets() {
    gauge!("classchat_socket_connections").set(0.0);
    counter!("classchat_socket_connects_total").increment(0);
    for event in ClientEventName::ALL {
        let event = event.as_str();
        counter!("classchat_socket_events_total", "event" => event).increment(0);
        let _ = histogram!("classchat_socket_event_duration_seconds", "event" => event);
        let meeting = event
            .starts_with("meeting-")
            .then_some("meetings_unavailable");
        for code in SERVER_ERROR_CODES.iter().copied().chain(meeting) {
            counter!("classchat_socket_errors_total", "event" => event, "code" => code)
                .increment(0);
        }
    }
}
