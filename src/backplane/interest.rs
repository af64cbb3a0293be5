//! Which broadcast targets this node needs: a count of local sockets per room and per user.
//! In cluster mode the node holds a Redis subscription exactly while a count is above zero
//! (sharded on Redis Cluster: see `redis::subscribe`).
//!
//! One task owns the counts and applies requests in batches, so a join waits for at
//! most one SUBSCRIBE round trip, however many sockets join at once, and an acquire is
//! answered only once its channel is subscribed.
//!
//! It also tells the relay which rooms gained or lost their local sockets, and when the
//! subscriptions are back after Redis was unreachable (re-subscribed and confirmed), so
//! the relay can heal what it missed meanwhile.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fred::clients::SubscriberClient;
use fred::interfaces::EventInterface;
use tokio::sync::{mpsc, oneshot};

use super::keys::Keys;
use super::Target;

/// What the relay is told about the rooms it delivers to.
#[derive(Debug, PartialEq, Eq)]
pub enum Tracking {
    /// The first local socket joined the room.
    Watch(String),
    /// The last local socket left it.
    Forget(String),
    /// The subscriber reconnected and every subscription is confirmed again.
    Resubscribed,
}

enum Cmd {
    Acquire(Target, oneshot::Sender<()>),
    Release(Target),
}

/// Handle to the interest task.
#[derive(Clone)]
pub struct Interest {
    tx: mpsc::UnboundedSender<Cmd>,
    rooms: Arc<AtomicUsize>,
}

/// The Redis side of interest: a subscriber connection and the channel names.
pub struct Channels {
    pub client: SubscriberClient,
    pub keys: Keys,
}

impl Interest {
    /// Starts the task. Without `channels` (single node) it only counts. Rooms gaining
    /// and losing local sockets, and resubscriptions, are told to `tracking`.
    pub fn spawn(
        channels: Option<Channels>,
        tracking: mpsc::UnboundedSender<Tracking>,
    ) -> Interest {
        let (tx, rx) = mpsc::unbounded_channel();
        let rooms = Arc::new(AtomicUsize::new(0));
        tokio::spawn(run(rx, channels, rooms.clone(), tracking));
        Interest { tx, rooms }
    }

    /// One more local socket needs `target`; returns once this node receives its traffic.
    pub async fn acquire(&self, target: Target) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Cmd::Acquire(target, tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Like `acquire`, without waiting for the subscription.
    pub fn add(&self, target: Target) {
        let (tx, _) = oneshot::channel();
        let _ = self.tx.send(Cmd::Acquire(target, tx));
    }

    /// One local socket less needs `target`.
    pub fn release(&self, target: Target) {
        let _ = self.tx.send(Cmd::Release(target));
    }

    /// Chat rooms with at least one local socket.
    pub fn active_rooms(&self) -> usize {
        self.rooms.load(Ordering::Relaxed)
    }
}

struct State {
    counts: HashMap<Target, usize>,
    subscribed: HashSet<Target>,
    /// Targets whose count crossed zero since the last reconcile (or whose Redis call
    /// failed): only these are looked at.
    dirty: HashSet<Target>,
    /// Subscriptions by kind (room, user, members), for the gauge.
    kinds: [usize; 3],
    channels: Option<Channels>,
    rooms: Arc<AtomicUsize>,
    tracking: mpsc::UnboundedSender<Tracking>,
    /// The subscriber reconnected: every subscription is to be confirmed again.
    resubscribe: bool,
}

fn kind_index(t: &Target) -> usize {
    match t {
        Target::Room(_) => 0,
        // Never subscribed to: a peer's traffic rides on its user's channel.
        Target::User(_) | Target::Peer { .. } => 1,
        Target::Members(_) => 2,
    }
}

async fn run(
    mut rx: mpsc::UnboundedReceiver<Cmd>,
    channels: Option<Channels>,
    rooms: Arc<AtomicUsize>,
    tracking: mpsc::UnboundedSender<Tracking>,
) {
    let mut reconnects = channels.as_ref().map(|c| c.client.reconnect_rx());
    let mut st = State {
        counts: HashMap::new(),
        subscribed: HashSet::new(),
        dirty: HashSet::new(),
        kinds: [0; 3],
        channels,
        rooms,
        tracking,
        resubscribe: false,
    };
    let mut retry = tokio::time::interval(Duration::from_millis(500));
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut waiters = Vec::new();
    loop {
        tokio::select! {
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { break };
                st.apply(cmd, &mut waiters);
                while waiters.len() < 4096 {
                    match rx.try_recv() {
                        Ok(cmd) => st.apply(cmd, &mut waiters),
                        Err(_) => break,
                    }
                }
                st.reconcile().await;
                for w in waiters.drain(..) {
                    let _ = w.send(());
                }
            }
            _ = retry.tick() => {
                st.reconcile().await;
                st.resubscribe().await;
            }
            Some(_) = async {
                match reconnects.as_mut() {
                    Some(r) => r.recv().await.ok(),
                    None => std::future::pending().await,
                }
            } => {
                metrics::counter!("classchat_redis_reconnects_total", "client" => "subscriber").increment(1);
                // Look at everything again.
                st.dirty.extend(st.counts.keys().cloned());
                st.dirty.extend(st.subscribed.iter().cloned());
                st.reconcile().await;
                st.resubscribe = true;
                st.resubscribe().await;
            }
        }
    }
}

impl State {
    fn apply(&mut self, cmd: Cmd, waiters: &mut Vec<oneshot::Sender<()>>) {
        match cmd {
            Cmd::Acquire(t, w) => {
                let n = self.counts.entry(t.clone()).or_insert(0);
                *n += 1;
                if *n == 1 {
                    if let Target::Room(id) = &t {
                        self.rooms.fetch_add(1, Ordering::Relaxed);
                        let _ = self.tracking.send(Tracking::Watch(id.clone()));
                    }
                    self.dirty.insert(t);
                }
                waiters.push(w);
            }
            Cmd::Release(t) => {
                if let Some(n) = self.counts.get_mut(&t) {
                    *n -= 1;
                    if *n == 0 {
                        self.counts.remove(&t);
                        if let Target::Room(id) = &t {
                            self.rooms.fetch_sub(1, Ordering::Relaxed);
                            let _ = self.tracking.send(Tracking::Forget(id.clone()));
                        }
                        self.dirty.insert(t);
                    }
                }
            }
        }
    }

    /// Brings Redis subscriptions in line with the counts, for the targets that changed.
    async fn reconcile(&mut self) {
        if self.dirty.is_empty() {
            return;
        }
        let (mut wanted, mut unwanted) = (Vec::new(), Vec::new());
        for t in self.dirty.drain() {
            match (self.counts.contains_key(&t), self.subscribed.contains(&t)) {
                (true, false) => wanted.push(t),
                (false, true) => unwanted.push(t),
                _ => {}
            }
        }
        let Some(ch) = &self.channels else {
            self.record(wanted, unwanted);
            return;
        };
        let mut done = (Vec::new(), Vec::new());
        if !wanted.is_empty() {
            let names: Vec<String> = wanted.iter().map(|t| ch.keys.channel(t)).collect();
            match super::redis::subscribe(&ch.client, names).await {
                Ok(()) => done.0 = wanted,
                Err(e) => {
                    tracing::warn!(error = %e, "redis subscribe failed; will retry");
                    self.dirty.extend(wanted);
                }
            }
        }
        if !unwanted.is_empty() {
            let names: Vec<String> = unwanted.iter().map(|t| ch.keys.channel(t)).collect();
            match super::redis::unsubscribe(&ch.client, names).await {
                Ok(()) => done.1 = unwanted,
                Err(e) => {
                    tracing::warn!(error = %e, "redis unsubscribe failed; will retry");
                    self.dirty.extend(unwanted);
                }
            }
        }
        self.record(done.0, done.1);
    }

    /// After a reconnect: subscribes to every channel again (Redis confirms each; one
    /// already held is confirmed as it is), then tells the relay, which heals what was
    /// published meanwhile. Retried until it succeeds.
    async fn resubscribe(&mut self) {
        if !self.resubscribe {
            return;
        }
        if let Some(ch) = &self.channels {
            let names: Vec<String> = self.subscribed.iter().map(|t| ch.keys.channel(t)).collect();
            if !names.is_empty() {
                if let Err(e) = super::redis::subscribe(&ch.client, names).await {
                    tracing::warn!(error = %e, "redis resubscribe failed; will retry");
                    return;
                }
            }
        }
        self.resubscribe = false;
        let _ = self.tracking.send(Tracking::Resubscribed);
    }

    /// Records subscriptions made and dropped.
    fn record(&mut self, added: Vec<Target>, removed: Vec<Target>) {
        for t in added {
            self.kinds[kind_index(&t)] += 1;
            self.subscribed.insert(t);
        }
        for t in removed {
            if self.subscribed.remove(&t) {
                self.kinds[kind_index(&t)] -= 1;
            }
        }
        for (kind, n) in ["room", "user", "members"].iter().zip(self.kinds) {
            metrics::gauge!("classchat_backplane_subscriptions", "kind" => *kind).set(n as f64);
        }
    }
}
