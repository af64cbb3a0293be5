//! The transport's own Prometheus series, named under the prefix the application sets,
//! registered when the server starts so each is present from the first scrape.

use metrics::Counter;

#[derive(Clone)]
pub(crate) struct Metrics {
    /// Packets that are not Socket.IO (the connection is closed).
    pub bad_packets: Counter,
    /// Events refused because too many of one socket were waiting.
    pub refused_queue_full: Counter,
    /// Sockets closed because they read too slowly.
    pub slow_closed: Counter,
    /// Sockets closed by the heartbeat (late pong, no CONNECT, dead output).
    pub timeouts: Counter,
    /// Handshakes refused: their address had too many sessions not yet connected.
    pub handshakes_refused: Counter,
}

impl Metrics {
    pub fn new(prefix: &str) -> Self {
        let name = |n: &str| format!("{prefix}_socket_{n}");
        metrics::describe_counter!(
            name("bad_packets_total"),
            "Malformed Socket.IO packets (each closes its connection)"
        );
        metrics::describe_counter!(
            name("events_refused_total"),
            "Client events refused before running, by reason"
        );
        metrics::describe_counter!(
            name("slow_closed_total"),
            "Sockets closed because their unsent output grew past the limit"
        );
        metrics::describe_counter!(
            name("timeouts_total"),
            "Sockets closed by the heartbeat: late pong, no namespace CONNECT, or dead output"
        );
        metrics::describe_counter!(
            name("handshakes_refused_total"),
            "Engine.IO handshakes refused: their client address had too many sessions not yet connected to a namespace"
        );
        Metrics {
            bad_packets: metrics::counter!(name("bad_packets_total")),
            refused_queue_full: metrics::counter!(name("events_refused_total"), "reason" => "queue_full"),
            slow_closed: metrics::counter!(name("slow_closed_total")),
            timeouts: metrics::counter!(name("timeouts_total")),
            handshakes_refused: metrics::counter!(name("handshakes_refused_total")),
        }
    }
}
