//! Cluster-wide token buckets in Redis: one Lua script (GCRA) per check, one round trip,
//! on a key that expires once its bucket is full again. The service decides what to do
//! when Redis cannot answer (it falls back to its local buckets).

use fred::clients::Client;
use fred::interfaces::{ClientLike, LuaInterface};

use super::keys::Keys;

/// GCRA on Redis' clock. KEYS[1]: the bucket; ARGV[1]: ms per token; ARGV[2]: burst.
/// Answers 0 when the call is allowed (and counted), else the ms until it would be.
const GCRA: &str = "\
local t = redis.call('TIME') \
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) \
local step = tonumber(ARGV[1]) local burst = tonumber(ARGV[2]) \
local tat = tonumber(redis.call('GET', KEYS[1]) or now) \
if tat < now then tat = now end \
local new = tat + step \
local ahead = new - now - burst * step \
if ahead > 0 then return math.max(1, math.ceil(ahead)) end \
redis.call('SET', KEYS[1], tostring(new), 'PX', math.max(1, math.ceil(new - now))) \
return 0";

/// Redis could not answer a check (not connected, or the command failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreachable;

/// The Redis side of the cluster-wide rate limits.
pub struct RedisBuckets {
    client: Client,
    keys: Keys,
}

impl RedisBuckets {
    pub fn new(client: Client, keys: Keys) -> Self {
        RedisBuckets { client, keys }
    }

    /// Takes one token from `id`'s bucket of `kind` (`per_sec` sustained, `burst` at
    /// once): `Ok(0)` allowed, `Ok(ms)` refused for that long, `Err` when Redis is away
    /// (refused at once while disconnected, not queued behind a reconnect).
    pub async fn take(
        &self,
        kind: &str,
        id: &str,
        per_sec: u32,
        burst: u32,
    ) -> Result<u64, Unreachable> {
        if !self.client.is_connected() {
            return Err(Unreachable);
        }
        let step = 1000.0 / f64::from(per_sec.max(1));
        let args = vec![step.to_string(), burst.max(1).to_string()];
        match self
            .client
            .eval::<i64, _, _, _>(GCRA, vec![self.keys.rate(kind, id)], args)
            .await
        {
            Ok(wait) => Ok(wait.max(0) as u64),
            Err(e) => {
                tracing::warn!(error = %e, "cluster rate limit check failed; local buckets used");
                Err(Unreachable)
            }
        }
    }
}
