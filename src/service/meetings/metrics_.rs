//! The meetings' Prometheus series, described and started at zero.

use metrics::{counter, describe_counter, describe_gauge, gauge};

/// Outcomes of `meeting-signal`.
pub const SIGNAL_OUTCOMES: &[&str] = &[
    "relayed",
    "peer_not_found",
    "not_in_meeting",
    "too_large",
    "invalid",
    "rate_limited",
    "unavailable",
];
const JOIN_OUTCOMES: &[&str] = &["joined", "full", "locked"];
const LEFT_REASONS: &[&str] = &["left", "disconnected", "removed"];
const END_REASONS: &[&str] = &["ended", "empty"];

pub fn describe_metrics() {
    describe_gauge!(
        "classchat_meetings_running",
        "Meetings running, cluster-wide (every node reports the same figure: use max)"
    );
    describe_gauge!(
        "classchat_meeting_participants",
        "Peers in running meetings, cluster-wide (every node reports the same figure: use max)"
    );
    describe_counter!(
        "classchat_meeting_signals_total",
        "meeting-signal events handled on this node, by outcome"
    );
    describe_counter!(
        "classchat_meeting_joins_total",
        "meeting-join attempts on a running meeting, by outcome"
    );
    describe_counter!(
        "classchat_meeting_leaves_total",
        "Peers that left a meeting, by reason"
    );
    describe_counter!("classchat_meetings_started_total", "Meetings started");
    describe_counter!(
        "classchat_meetings_ended_total",
        "Meetings ended, by reason (ended by a host, or empty)"
    );
}

pub fn zero_metrics() {
    gauge!("classchat_meetings_running").set(0.0);
    gauge!("classchat_meeting_participants").set(0.0);
    for o in SIGNAL_OUTCOMES {
        counter!("classchat_meeting_signals_total", "outcome" => *o).increment(0);
    }
    for o in JOIN_OUTCOMES {
        counter!("classchat_meeting_joins_total", "outcome" => *o).increment(0);
    }
    for r in LEFT_REASONS {
        counter!("classchat_meeting_leaves_total", "reason" => *r).increment(0);
    }
    counter!("classchat_meetings_started_total").increment(0);
    for r in END_REASONS {
        counter!("classchat_meetings_ended_total", "reason" => *r).increment(0);
    }
}
