//! Coalesces concurrent database work keyed by user: what arrives while one batch runs
//! goes into the next (no timer, so a lone request waits for nothing), and the same key
//! asked for twice in a batch is done once. A connect storm then costs one round trip
//! (and one commit) per batch instead of one per socket.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;

use tokio::sync::{mpsc, oneshot};

use crate::domain::error::{AppError, AppResult};

/// Most keys in one batch.
const MAX_BATCH: usize = 500;

type Waiter<V> = oneshot::Sender<AppResult<V>>;

pub struct Batcher<K, V> {
    tx: mpsc::UnboundedSender<(K, Waiter<V>)>,
}

impl<K, V> Batcher<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Default + Send + 'static,
{
    /// Starts the task that runs `run` on each batch of distinct keys; a key missing from
    /// its answer gets `V::default()`.
    pub fn spawn<F, Fut>(run: F) -> Self
    where
        F: Fn(Vec<K>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<HashMap<K, V>, sqlx::Error>> + Send,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<(K, Waiter<V>)>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut waiting: HashMap<K, Vec<Waiter<V>>> = HashMap::new();
                let (k, w) = first;
                waiting.entry(k).or_default().push(w);
                while waiting.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok((k, w)) => waiting.entry(k).or_default().push(w),
                        Err(_) => break,
                    }
                }
                let keys: Vec<K> = waiting.keys().cloned().collect();
                match run(keys).await {
                    Ok(mut answers) => {
                        for (k, ws) in waiting {
                            let v = answers.remove(&k).unwrap_or_default();
                            for w in ws {
                                let _ = w.send(Ok(v.clone()));
                            }
                        }
                    }
                    Err(e) => {
                        let e = AppError::from(e);
                        for w in waiting.into_values().flatten() {
                            let _ = w.send(Err(e.clone()));
                        }
                    }
                }
            }
        });
        Batcher { tx }
    }

    /// The answer for `key`, from the batch it lands in.
    pub async fn get(&self, key: K) -> AppResult<V> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send((key, tx))
            .map_err(|_| AppError::unavailable("shutting_down", "the node is shutting down"))?;
        rx.await
            .map_err(|_| AppError::unavailable("shutting_down", "the node is shutting down"))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn concurrent_requests_share_batches_and_each_gets_its_answer() {
        let runs = Arc::new(AtomicUsize::new(0));
        let keys_seen = Arc::new(AtomicUsize::new(0));
        let (r, k) = (runs.clone(), keys_seen.clone());
        let b = Arc::new(Batcher::spawn(move |keys: Vec<u32>| {
            r.fetch_add(1, Ordering::SeqCst);
            k.fetch_add(keys.len(), Ordering::SeqCst);
            async move {
                tokio::task::yield_now().await;
                Ok(keys.into_iter().map(|k| (k, k * 2)).collect())
            }
        }));
        let tasks: Vec<_> = (0..200u32)
            .map(|i| {
                let b = b.clone();
                tokio::spawn(async move { (i % 10, b.get(i % 10).await) })
            })
            .collect();
        for t in tasks {
            let (k, v) = t.await.unwrap();
            assert_eq!(v, Ok(k * 2));
        }
        assert!(
            keys_seen.load(Ordering::SeqCst) < 200,
            "a key asked for twice in a batch is done once"
        );
        assert!(runs.load(Ordering::SeqCst) >= 1);
    }

    #[tokio::test]
    async fn a_failed_batch_fails_every_request_in_it() {
        let b = Batcher::spawn(|_keys: Vec<u32>| async {
            Err::<HashMap<u32, u32>, _>(sqlx::Error::PoolTimedOut)
        });
        let e = b.get(1).await.unwrap_err();
        assert_eq!(e.code, "database_unavailable");
    }
}
