//! What the rate limits need from a bucket store shared by every node (cluster mode), and
//! the backplane's Redis buckets providing it.

use futures_util::future::BoxFuture;

use crate::backplane::buckets::RedisBuckets;
use crate::domain::limits::Rate;

/// The shared store could not answer; the caller falls back to its local bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

/// Token buckets shared by every node: one round trip per check at most.
pub trait SharedBuckets: Send + Sync {
    /// Takes one token of `id`'s bucket of `kind`: `Ok(0)` allowed, `Ok(ms)` refused for
    /// that long.
    fn take<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
        rate: Rate,
    ) -> BoxFuture<'a, Result<u64, Unavailable>>;
}

impl SharedBuckets for RedisBuckets {
    fn take<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
        rate: Rate,
    ) -> BoxFuture<'a, Result<u64, Unavailable>> {
        Box::pin(async move {
            RedisBuckets::take(self, kind, id, rate.per_sec, rate.burst)
                .await
                .map_err(|_| Unavailable)
        })
    }
}
