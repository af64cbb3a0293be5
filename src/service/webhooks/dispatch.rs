//! The dispatcher every node runs: claim due outbox rows under a lease, POST them signed,
//! record each outcome (delivered, retry later with exponential backoff, or failed once
//! the max age is past), and report the age of the oldest pending row.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::domain::time::now_ms;
use crate::domain::webhook::signature;
use crate::service::Chat;
use crate::storage::ClaimedRow;

/// How often delivered and failed rows are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Failed rows (the dead letters) are kept this long after they were given up.
const KEEP_FAILED_MS: i64 = 30 * 24 * 3600 * 1000;
/// Longest error text kept per row.
const MAX_ERROR_CHARS: usize = 300;

/// Runs until aborted at shutdown; stops claiming once the node drains.
pub async fn run(chat: Arc<Chat>) {
    let Some(client) = chat.webhooks.client.clone() else {
        return;
    };
    let config = &chat.webhooks.config;
    let lease_ms = config.lease().as_millis() as i64;
    // The first round reports the oldest pending row at once.
    let mut looked = Instant::now()
        .checked_sub(config.poll_interval)
        .unwrap_or_else(Instant::now);
    let mut pruned = Instant::now();
    loop {
        if chat.draining.load(Ordering::Acquire) {
            // Deliveries in flight are done; what is left goes to the other nodes.
            return;
        }
        let batch = config.concurrency as i64;
        let claimed = match chat.store.claim_webhooks(now_ms(), lease_ms, batch).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "webhook outbox unavailable");
                Vec::new()
            }
        };
        let full = claimed.len() as i64 == batch;
        let sends = claimed.into_iter().map(|row| deliver(&chat, &client, row));
        futures_util::future::join_all(sends).await;
        if looked.elapsed() >= config.poll_interval {
            looked = Instant::now();
            report_oldest(&chat).await;
        }
        if pruned.elapsed() >= PRUNE_EVERY {
            pruned = Instant::now();
            let now = now_ms();
            let keep = config.max_age.as_millis() as i64;
            if let Err(e) = chat
                .store
                .prune_webhooks(now - keep, now - KEEP_FAILED_MS)
                .await
            {
                tracing::warn!(error = %e, "webhook outbox not pruned");
            }
        }
        if full {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(config.poll_interval) => {}
            _ = chat.webhooks.wake.notified() => {}
        }
    }
}

/// `classchat_webhook_oldest_pending_seconds`: cluster-wide, the same on every node.
async fn report_oldest(chat: &Chat) {
    match chat.store.oldest_pending_webhook().await {
        Ok(oldest) => {
            let age = oldest.map_or(0, |at| (now_ms() - at).max(0));
            metrics::gauge!("classchat_webhook_oldest_pending_seconds").set(age as f64 / 1000.0);
        }
        Err(e) => tracing::warn!(error = %e, "webhook outbox unavailable"),
    }
}

/// One attempt at one row, and its outcome written back (only while the lease holds).
async fn deliver(chat: &Chat, client: &reqwest::Client, row: ClaimedRow) {
    let config = &chat.webhooks.config;
    let (Some(url), Some(secret)) = (&config.url, &config.secret) else {
        return;
    };
    let sent = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Classchat-Event-Id", &row.id)
        .header(
            "X-Classchat-Signature",
            signature(secret.as_bytes(), row.body.as_bytes()),
        )
        .body(row.body.clone())
        .send()
        .await;
    let error = match sent {
        Ok(resp) if resp.status().is_success() => None,
        Ok(resp) => Some(format!("HTTP {}", resp.status().as_u16())),
        Err(e) => Some(describe(&e)),
    };
    let kind =
        crate::domain::webhook::WebhookKind::parse(&row.kind).map_or("mention", |k| k.as_str());
    let now = now_ms();
    let (status, next_at) = match &error {
        None => ("delivered", now),
        Some(_) => {
            let next = now + config.backoff(row.attempts as u32 + 1).as_millis() as i64;
            if next > row.created_at + config.max_age.as_millis() as i64 {
                ("failed", now)
            } else {
                ("pending", next)
            }
        }
    };
    let error: Option<String> = error.map(|e| e.chars().take(MAX_ERROR_CHARS).collect());
    match chat
        .store
        .webhook_attempted(&row, status, now, next_at, error.as_deref())
        .await
    {
        Ok(true) => {
            let name = match status {
                "delivered" => "classchat_webhooks_delivered_total",
                "failed" => "classchat_webhooks_failed_total",
                _ => "classchat_webhooks_retried_total",
            };
            metrics::counter!(name, "type" => kind).increment(1);
            if status == "failed" {
                tracing::warn!(id = %row.id, error = ?error, "webhook given up");
            }
        }
        Ok(false) => {
            tracing::warn!(id = %row.id, "webhook lease lost: another node took the row over")
        }
        Err(e) => {
            tracing::warn!(error = %e, id = %row.id, "webhook outcome not stored; the row is retried after its lease")
        }
    }
}

/// A short reason for a failed request: timeout, connection, or other.
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    format!("{what}: {e}")
}
