//! The sweep of uploads never attached to a message: after `CLASSCHAT_UPLOAD_ORPHAN_SECS`
//! their row and their file are removed (by whichever node gets there first).

use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStoreExt;

use crate::domain::time::now_ms;
use crate::service::Chat;

/// Uploads removed per round at most; the next round takes the rest.
const BATCH: i64 = 500;

/// Runs the sweep every `CLASSCHAT_UPLOAD_SWEEP_SECS`, from start-up on.
pub async fn upload_sweep(chat: Arc<Chat>) {
    let every = Duration::from_secs(chat.limits.uploads.sweep_secs);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match chat.sweep_orphans().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "never-attached uploads removed"),
            Err(e) => tracing::warn!(error = %e, "upload sweep failed; next round retries"),
        }
    }
}

impl Chat {
    /// One round: the never-attached uploads older than the orphan age, removed.
    pub async fn sweep_orphans(&self) -> Result<usize, sqlx::Error> {
        let before = now_ms() - (self.limits.uploads.orphan_secs as i64) * 1000;
        let ids = self.store.orphan_uploads(before, BATCH).await?;
        let mut removed = 0;
        for id in ids {
            // The row goes first: an upload attached meanwhile stays whole.
            if !self.store.drop_orphan(&id).await? {
                continue;
            }
            match self.files.objects.delete(&self.files.path(&id)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => tracing::warn!(upload = %id, error = %e, "an orphan's file was left"),
            }
            metrics::counter!("classchat_uploads_swept_total").increment(1);
            removed += 1;
        }
        Ok(removed)
    }
}

/// What the upload metrics mean.
pub fn describe_upload_metrics() {
    metrics::describe_counter!(
        "classchat_uploads_total",
        "Uploads by outcome: stored, too_large, type_refused (the bytes contradict the declared type), failed"
    );
    metrics::describe_counter!("classchat_upload_bytes_total", "Bytes of uploads stored");
    metrics::describe_counter!(
        "classchat_uploads_swept_total",
        "Uploads never attached to a message, removed by the sweep"
    );
}

/// The upload series, at zero from start-up.
pub fn zero_upload_metrics() {
    for outcome in ["stored", "too_large", "type_refused", "failed"] {
        metrics::counter!("classchat_uploads_total", "outcome" => outcome).increment(0);
    }
    metrics::counter!("classchat_upload_bytes_total").increment(0);
    metrics::counter!("classchat_uploads_swept_total").increment(0);
}
