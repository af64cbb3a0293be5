//! The `socket_event` span of each client event: its name (bounded: the contract's names,
//! else `unknown`), the room it names (`roomId` of the payload, a field, never a metric
//! label), the user, and the error code when it is refused; a debug event when it is
//! answered (`RUST_LOG=classchat::realtime=debug` logs every event).

use std::time::Duration;

use serde_json::Value;
use socketio_server::Payload;
use tracing::field::Empty;

use crate::domain::events::ClientEventName;

/// Longest `roomId` recorded: room ids are 32 characters; a client may send anything.
const MAX_ROOM_ID: usize = 128;

/// The span of one client event.
pub(super) fn event_span(event: Option<ClientEventName>, payload: &Payload) -> tracing::Span {
    let name = event.map_or("unknown", ClientEventName::as_str);
    let span = tracing::info_span!(
        "socket_event",
        event = name,
        room_id = Empty,
        user_id = Empty,
        code = Empty,
        otel.name = Empty,
        otel.kind = Empty,
        otel.status_code = Empty,
    );
    if let Payload::Json(Value::Object(fields)) = payload {
        if let Some(Value::String(room)) = fields.get("roomId") {
            if room.len() <= MAX_ROOM_ID {
                span.record("room_id", room.as_str());
            }
        }
    }
    if crate::telemetry::exporting() {
        span.record("otel.name", name);
        span.record("otel.kind", "server");
    }
    span
}

/// Records the outcome on the current event's span and logs it at debug level.
pub(super) fn answered(code: Option<&'static str>, elapsed: Duration) {
    let span = tracing::Span::current();
    let elapsed_ms = elapsed.as_micros() as f64 / 1000.0;
    match code {
        Some(code) => {
            span.record("code", code);
            if code == "internal_error" && crate::telemetry::exporting() {
                span.record("otel.status_code", "ERROR");
            }
            tracing::debug!(elapsed_ms, "refused {code}");
        }
        None => tracing::debug!(elapsed_ms, "answered"),
    }
}
