//! Rate limits (token buckets from `governor`), per user and per client address. In
//! cluster mode the per-user buckets are shared by every node (`SharedBuckets`); while
//! the shared store is unreachable, this node's own buckets apply and each such check is
//! counted in `classchat_rate_limit_fallback_total`.

use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::domain::error::{AppError, AppResult};
use crate::domain::limits::{Limits, Rate};

pub use super::shared_rate::SharedBuckets;
use crate::metrics::RATE_LIMIT_KINDS;

pub struct RateLimits {
    sends: DefaultKeyedRateLimiter<String>,
    typing: DefaultKeyedRateLimiter<String>,
    connects: DefaultKeyedRateLimiter<String>,
    connects_by_ip: DefaultKeyedRateLimiter<String>,
    sends_by_ip: DefaultKeyedRateLimiter<String>,
    typing_by_ip: DefaultKeyedRateLimiter<String>,
    statuses: DefaultKeyedRateLimiter<String>,
    room_creates: DefaultKeyedRateLimiter<String>,
    member_adds: DefaultKeyedRateLimiter<String>,
    online_users: DefaultKeyedRateLimiter<String>,
    signals: DefaultKeyedRateLimiter<String>,
    meeting_actions: DefaultKeyedRateLimiter<String>,
    uploads: DefaultKeyedRateLimiter<String>,
    searches: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    limits: Limits,
    shared: OnceLock<Arc<dyn SharedBuckets>>,
}

fn quota(rate: Rate) -> Quota {
    let nz = |n: u32| NonZeroU32::new(n.max(1)).expect("max(1) is non-zero");
    Quota::per_second(nz(rate.per_sec)).allow_burst(nz(rate.burst))
}

impl RateLimits {
    pub fn new(limits: &Limits) -> Self {
        RateLimits {
            sends: RateLimiter::keyed(quota(limits.send)),
            typing: RateLimiter::keyed(quota(limits.typing)),
            connects: RateLimiter::keyed(quota(limits.connect)),
            sends_by_ip: RateLimiter::keyed(quota(limits.send_per_ip)),
            typing_by_ip: RateLimiter::keyed(quota(limits.typing_per_ip)),
            connects_by_ip: RateLimiter::keyed(quota(limits.connect_per_ip)),
            statuses: RateLimiter::keyed(quota(limits.status)),
            room_creates: RateLimiter::keyed(quota(limits.room_create)),
            member_adds: RateLimiter::keyed(quota(limits.member_add)),
            online_users: RateLimiter::keyed(quota(limits.online_users)),
            signals: RateLimiter::keyed(quota(limits.meeting.signal)),
            meeting_actions: RateLimiter::keyed(quota(limits.meeting.actions)),
            uploads: RateLimiter::keyed(quota(limits.uploads.rate)),
            searches: RateLimiter::keyed(quota(limits.search.rate)),
            clock: DefaultClock::default(),
            limits: limits.clone(),
            shared: OnceLock::new(),
        }
    }

    /// Cluster mode: the per-user buckets live in `shared` from now on.
    pub fn share(&self, shared: Arc<dyn SharedBuckets>) {
        let _ = self.shared.set(shared);
    }

    /// A per-user check: in the shared buckets when there are some (one round trip),
    /// else, or while they are unreachable, in this node's.
    async fn check_user(
        &self,
        limiter: &DefaultKeyedRateLimiter<String>,
        rate: Rate,
        user_id: &str,
        what: &'static str,
    ) -> AppResult<()> {
        debug_assert!(RATE_LIMIT_KINDS.contains(&what), "{what}: a new kind");
        if let Some(shared) = self.shared.get() {
            match shared.take(what, user_id, rate).await {
                Ok(0) => return Ok(()),
                Ok(wait_ms) => {
                    metrics::counter!("classchat_rate_limited_total", "kind" => what).increment(1);
                    return Err(AppError::rate_limited(wait_ms.div_ceil(1000)));
                }
                Err(_) => {
                    metrics::counter!("classchat_rate_limit_fallback_total").increment(1);
                }
            }
        }
        self.check(limiter, user_id, what)
    }

    fn check(
        &self,
        limiter: &DefaultKeyedRateLimiter<String>,
        user_id: &str,
        what: &'static str,
    ) -> AppResult<()> {
        debug_assert!(RATE_LIMIT_KINDS.contains(&what), "{what}: a new kind");
        limiter
            .check_key(&user_id.to_string())
            .map_err(|not_until| {
                metrics::counter!("classchat_rate_limited_total", "kind" => what).increment(1);
                let wait = not_until.wait_time_from(self.clock.now());
                AppError::rate_limited(wait.as_secs_f64().ceil() as u64)
            })
    }

    /// One message send by this user.
    pub async fn upload(&self, user_id: &str) -> AppResult<()> {
        self.check_user(&self.uploads, self.limits.uploads.rate, user_id, "upload")
            .await
    }

    pub async fn send(&self, user_id: &str) -> AppResult<()> {
        self.check_user(&self.sends, self.limits.send, user_id, "send")
            .await
    }

    /// One typing event by this user.
    pub async fn typing(&self, user_id: &str) -> AppResult<()> {
        self.check_user(&self.typing, self.limits.typing, user_id, "typing")
            .await
    }

    /// One message send from this client address.
    pub fn send_from(&self, ip: &str) -> AppResult<()> {
        self.check(&self.sends_by_ip, ip, "send_ip")
    }

    /// One typing event from this client address.
    pub fn typing_from(&self, ip: &str) -> AppResult<()> {
        self.check(&self.typing_by_ip, ip, "typing_ip")
    }

    /// One Socket.IO connection, by client address (before authentication).
    pub fn connect_from(&self, ip: &str) -> AppResult<()> {
        self.check(&self.connects_by_ip, ip, "connect_ip")
    }

    /// One Socket.IO connection by this user.
    pub async fn connect(&self, user_id: &str) -> AppResult<()> {
        self.check_user(&self.connects, self.limits.connect, user_id, "connect")
            .await
    }

    /// One status change by this user.
    pub async fn status(&self, user_id: &str) -> AppResult<()> {
        self.check_user(&self.statuses, self.limits.status, user_id, "status")
            .await
    }

    /// One room creation or 1:1 open by this user.
    pub async fn room_create(&self, user_id: &str) -> AppResult<()> {
        self.check_user(
            &self.room_creates,
            self.limits.room_create,
            user_id,
            "room_create",
        )
        .await
    }

    /// One member add request by this user.
    pub async fn member_add(&self, user_id: &str) -> AppResult<()> {
        self.check_user(
            &self.member_adds,
            self.limits.member_add,
            user_id,
            "member_add",
        )
        .await
    }

    /// One online-users query by this user.
    pub async fn online_users(&self, user_id: &str) -> AppResult<()> {
        self.check_user(
            &self.online_users,
            self.limits.online_users,
            user_id,
            "online_users",
        )
        .await
    }

    /// One meeting-signal by this user.
    pub async fn signal(&self, user_id: &str) -> AppResult<()> {
        let rate = self.limits.meeting.signal;
        self.check_user(&self.signals, rate, user_id, "signal")
            .await
    }

    /// One meeting join, media-state change or host action by this user.
    pub async fn meeting_action(&self, user_id: &str) -> AppResult<()> {
        let rate = self.limits.meeting.actions;
        self.check_user(&self.meeting_actions, rate, user_id, "meeting")
            .await
    }

    /// One message search by this user.
    pub async fn search(&self, user_id: &str) -> AppResult<()> {
        let rate = self.limits.search.rate;
        self.check_user(&self.searches, rate, user_id, "search")
            .await
    }

    /// Forgets idle users' buckets (called periodically).
    pub fn prune(&self) {
        self.sends.retain_recent();
        self.typing.retain_recent();
        self.connects.retain_recent();
        self.connects_by_ip.retain_recent();
        self.sends_by_ip.retain_recent();
        self.typing_by_ip.retain_recent();
        self.statuses.retain_recent();
        self.room_creates.retain_recent();
        self.member_adds.retain_recent();
        self.online_users.retain_recent();
        self.signals.retain_recent();
        self.meeting_actions.retain_recent();
        self.searches.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_over_the_limit_is_refused_with_retry_after() {
        let limits = Limits {
            send: Rate::new(1, 3),
            ..Limits::default()
        };
        let r = RateLimits::new(&limits);
        for _ in 0..3 {
            r.send("u").await.unwrap();
        }
        let e = r.send("u").await.unwrap_err();
        assert_eq!(
            (e.status, e.code, e.retry_after),
            (429, "rate_limited", Some(1))
        );
        assert!(r.send("other").await.is_ok());
    }

    /// A shared store that always answers the same.
    struct Fixed(Result<u64, super::super::shared_rate::Unavailable>);

    impl SharedBuckets for Fixed {
        fn take<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
            _: Rate,
        ) -> futures_util::future::BoxFuture<'a, Result<u64, super::super::shared_rate::Unavailable>>
        {
            Box::pin(async move { self.0 })
        }
    }

    #[tokio::test]
    async fn shared_buckets_decide_while_they_answer() {
        let limits = Limits {
            send: Rate::new(1, 1),
            ..Limits::default()
        };
        let r = RateLimits::new(&limits);
        r.share(Arc::new(Fixed(Ok(0))));
        for _ in 0..5 {
            r.send("u").await.unwrap();
        }
        let r = RateLimits::new(&limits);
        r.share(Arc::new(Fixed(Ok(1500))));
        let e = r.send("u").await.unwrap_err();
        assert_eq!((e.code, e.retry_after), ("rate_limited", Some(2)));
    }

    #[tokio::test]
    async fn while_the_shared_buckets_are_unreachable_the_local_ones_apply() {
        let limits = Limits {
            send: Rate::new(1, 2),
            ..Limits::default()
        };
        let r = RateLimits::new(&limits);
        r.share(Arc::new(Fixed(Err(super::super::shared_rate::Unavailable))));
        r.send("u").await.unwrap();
        r.send("u").await.unwrap();
        assert!(r.send("u").await.is_err());
    }
}
