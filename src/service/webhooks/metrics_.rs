//! The webhooks' Prometheus series, described and started at zero.

use metrics::{counter, describe_counter, describe_gauge, gauge};

use crate::domain::webhook::WebhookKind;

const BY_TYPE: &[&str] = &[
    "classchat_webhooks_queued_total",
    "classchat_webhooks_delivered_total",
    "classchat_webhooks_retried_total",
    "classchat_webhooks_failed_total",
];

pub fn describe_metrics() {
    describe_counter!(
        "classchat_webhooks_queued_total",
        "Offline notifications queued in the webhook outbox by this node, by type"
    );
    describe_counter!(
        "classchat_webhooks_delivered_total",
        "Offline notifications delivered (2xx) by this node, by type"
    );
    describe_counter!(
        "classchat_webhooks_retried_total",
        "Webhook attempts by this node that failed and were scheduled again, by type"
    );
    describe_counter!(
        "classchat_webhooks_failed_total",
        "Offline notifications given up by this node after CLASSCHAT_WEBHOOK_MAX_AGE_SECS, by type"
    );
    describe_counter!(
        "classchat_webhooks_queue_errors_total",
        "Offline notifications that could not be queued (database error), so never sent"
    );
    describe_gauge!(
        "classchat_webhook_oldest_pending_seconds",
        "Age of the oldest undelivered webhook, cluster-wide (every node reports the same figure: use max)"
    );
}

pub fn zero_metrics() {
    for name in BY_TYPE {
        for kind in WebhookKind::ALL {
            counter!(*name, "type" => kind.as_str()).increment(0);
        }
    }
    counter!("classchat_webhooks_queue_errors_total").increment(0);
    gauge!("classchat_webhook_oldest_pending_seconds").set(0.0);
}
