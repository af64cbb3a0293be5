//! Redis backplane: each broadcast is published once on its target's channel; this node's
//! subscriber connection carries only the channels its own sockets need, and relays them.
//! On Redis Cluster (a `redis-cluster://` URL) channels are sharded: SPUBLISH and
//! SSUBSCRIBE, served by the master of the channel's slot; on a single Redis, PUBLISH
//! and SUBSCRIBE.

use std::sync::Arc;
use std::time::Duration;

use fred::clients::{Client, SubscriberClient};
use fred::error::Error;
use fred::interfaces::{ClientLike, EventInterface, PubsubInterface};
use fred::prelude::{Builder, Config as RedisConfig, ReconnectPolicy};
use fred::types::RespVersion;

use super::codec;
use super::keys::Keys;
use super::relay::Relay;
use super::{Envelope, Target};

/// Capacity of fred's in-process queue of received messages; a slow relay beyond this
/// would lose messages, so it is generous.
const RECEIVE_QUEUE: usize = 1 << 16;

pub struct RedisBackplane {
    publisher: Client,
    subscriber: SubscriberClient,
    pub keys: Keys,
}

fn builder(url: &str, resp3: bool) -> Result<Builder, String> {
    let mut config = RedisConfig::from_url(url).map_err(|e| format!("REDIS_URL: {e}"))?;
    if resp3 {
        config.version = RespVersion::RESP3;
    }
    let mut b = Builder::from_config(config);
    b.set_policy(ReconnectPolicy::new_exponential(0, 50, 2_000, 2));
    b.with_performance_config(|p| {
        p.default_command_timeout = Duration::from_secs(3);
        p.broadcast_channel_capacity = RECEIVE_QUEUE;
    });
    b.with_connection_config(|c| {
        c.connection_timeout = Duration::from_secs(3);
        c.max_command_attempts = 3;
    });
    Ok(b)
}

/// Kind label of a target, for metrics.
pub fn kind(t: &Target) -> &'static str {
    match t {
        Target::Room(_) => "room",
        Target::User(_) => "user",
        Target::Members(_) => "members",
        Target::Peer { .. } => "peer",
    }
}

impl RedisBackplane {
    /// Connects the publisher and the subscriber; errors name `REDIS_URL`.
    pub async fn connect(
        url: &str,
        keys: Keys,
    ) -> Result<(Self, Client, SubscriberClient), String> {
        let publisher = builder(url, false)?
            .build()
            .map_err(|e| format!("REDIS_URL: {e}"))?;
        let subscriber = builder(url, true)?
            .build_subscriber_client()
            .map_err(|e| format!("REDIS_URL: {e}"))?;
        publisher
            .init()
            .await
            .map_err(|e| format!("REDIS_URL: cannot connect: {e}"))?;
        subscriber
            .init()
            .await
            .map_err(|e| format!("REDIS_URL: cannot connect: {e}"))?;
        subscriber.manage_subscriptions();
        let mut reconnects = publisher.reconnect_rx();
        // Subscribed after the first connect: every event here is a reconnect.
        tokio::spawn(async move {
            while reconnects.recv().await.is_ok() {
                metrics::counter!("classchat_redis_reconnects_total", "client" => "publisher")
                    .increment(1);
            }
        });
        Ok((
            RedisBackplane {
                publisher: publisher.clone(),
                subscriber: subscriber.clone(),
                keys,
            },
            publisher,
            subscriber,
        ))
    }

    /// Whether the publisher and the subscriber connections are up.
    pub fn connected(&self) -> (bool, bool) {
        (
            self.publisher.is_connected(),
            self.subscriber.is_connected(),
        )
    }

    /// Publishes once, on the target's channel; false if Redis could not take it
    /// (not connected: refused at once rather than queued behind a reconnect).
    pub async fn publish(&self, env: &Envelope) -> bool {
        let kind = kind(&env.target);
        let ok = if self.publisher.is_connected() {
            let bytes = codec::encode(env);
            let channel = self.keys.channel(&env.target);
            let sent = if self.publisher.is_clustered() {
                self.publisher.spublish::<i64, _, _>(channel, bytes).await
            } else {
                self.publisher.publish::<i64, _, _>(channel, bytes).await
            };
            match sent {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "redis publish failed");
                    false
                }
            }
        } else {
            false
        };
        let counter = if ok {
            "classchat_backplane_published_total"
        } else {
            "classchat_backplane_publish_errors_total"
        };
        metrics::counter!(counter, "kind" => kind).increment(1);
        ok
    }
}

/// Subscribes to `names`: SUBSCRIBE on a single Redis; on Redis Cluster one SSUBSCRIBE
/// per hash slot (Redis refuses one across slots), sent to the slot's master.
pub async fn subscribe(client: &SubscriberClient, names: Vec<String>) -> Result<(), Error> {
    if !client.is_clustered() {
        return client.subscribe(names).await;
    }
    for (_, group) in fred::util::group_by_hash_slot(names)? {
        client.ssubscribe(group).await?;
    }
    Ok(())
}

/// Unsubscribes from `names`, as [`subscribe`] subscribed.
pub async fn unsubscribe(client: &SubscriberClient, names: Vec<String>) -> Result<(), Error> {
    if !client.is_clustered() {
        return client.unsubscribe(names).await;
    }
    for (_, group) in fred::util::group_by_hash_slot(names)? {
        client.sunsubscribe(group).await?;
    }
    Ok(())
}

/// Relays what the subscriber receives (messages and, on Redis Cluster, shard messages) to this node's sockets, in arrival order.
pub fn spawn_relay(subscriber: &SubscriberClient, keys: Keys, relay: Arc<Relay>) {
    let mut rx = subscriber.message_rx();
    tokio::spawn(async move {
        loop {
            let msg = match rx.recv().await {
                Ok(m) => m,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    metrics::counter!("classchat_backplane_dropped_total").increment(n);
                    tracing::error!(lost = n, "backplane relay fell behind");
                    continue;
                }
                Err(_) => break,
            };
            let Some(target) = keys.target_of(&msg.channel) else {
                continue;
            };
            let kind = kind(&target);
            let Some(bytes) = msg.value.into_bytes() else {
                continue;
            };
            let Some((env, sent_at)) = codec::decode(target, bytes) else {
                metrics::counter!("classchat_backplane_undecodable_total").increment(1);
                continue;
            };
            metrics::counter!("classchat_backplane_received_total", "kind" => kind).increment(1);
            let latency = (codec::now_micros() - sent_at).max(0) as f64 / 1e6;
            metrics::histogram!("classchat_backplane_relay_latency_seconds").record(latency);
            relay.deliver(env);
        }
    });
}
