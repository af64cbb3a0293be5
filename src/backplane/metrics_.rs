//! The backplane's Prometheus series, described and started at zero (every mode: a single
//! node reports no publishes, errors or reconnects rather than no series). Only
//! `classchat_redis_connected` is cluster-mode only: 0 would mean "Redis is down".

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

/// The `kind` label of publishes and receipts: every [`super::Target`] variant.
pub const TARGET_KINDS: &[&str] = &["room", "user", "members", "peer"];
/// The `kind` label of Redis subscriptions (a peer rides on its user's channel).
pub const CHANNEL_KINDS: &[&str] = &["room", "user", "members"];
/// The `client` label of the Redis connections.
pub const REDIS_CLIENTS: &[&str] = &["publisher", "subscriber"];

pub fn describe_metrics() {
    describe_counter!(
        "classchat_backplane_published_total",
        "Envelopes published to Redis, by target kind (cluster mode)"
    );
    describe_counter!(
        "classchat_backplane_publish_errors_total",
        "Publishes Redis refused or could not take (not connected, timeout), by target kind"
    );
    describe_counter!(
        "classchat_backplane_local_fallback_total",
        "Envelopes delivered to this node's sockets only because the publish failed"
    );
    describe_counter!(
        "classchat_backplane_received_total",
        "Envelopes received from Redis, by target kind"
    );
    describe_counter!(
        "classchat_backplane_dropped_total",
        "Envelopes lost because the relay fell behind the subscriber"
    );
    describe_counter!(
        "classchat_backplane_undecodable_total",
        "Envelopes received from Redis that could not be decoded"
    );
    describe_histogram!(
        "classchat_backplane_relay_latency_seconds",
        metrics::Unit::Seconds,
        "Publish on one node to relay on this one (includes clock skew between nodes)"
    );
    describe_gauge!(
        "classchat_backplane_subscriptions",
        "Redis channels this node is subscribed to, by kind"
    );
    describe_counter!(
        "classchat_redis_reconnects_total",
        "Reconnects of the Redis clients, by client (publisher, subscriber)"
    );
}

/// Every series above at zero.
pub fn zero_metrics() {
    for kind in TARGET_KINDS {
        for name in [
            "classchat_backplane_published_total",
            "classchat_backplane_publish_errors_total",
            "classchat_backplane_received_total",
        ] {
            counter!(name, "kind" => *kind).increment(0);
        }
    }
    for name in [
        "classchat_backplane_local_fallback_total",
        "classchat_backplane_dropped_total",
        "classchat_backplane_undecodable_total",
    ] {
        counter!(name).increment(0);
    }
    // Registered without an observation: rendered with every bucket at 0.
    let _ = histogram!("classchat_backplane_relay_latency_seconds");
    for kind in CHANNEL_KINDS {
        gauge!("classchat_backplane_subscriptions", "kind" => *kind).set(0.0);
    }
    for client in REDIS_CLIENTS {
        counter!("classchat_redis_reconnects_total", "client" => *client).increment(0);
    }
}
