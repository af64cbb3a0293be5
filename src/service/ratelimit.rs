//! Per-user rate limits on sends, typing, connections and status changes (token buckets from `governor`).

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::domain::error::{AppError, AppResult};
use crate::domain::limits::{Limits, Rate};

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
    clock: DefaultClock,
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
            clock: DefaultClock::default(),
        }
    }

    fn check(
        &self,
        limiter: &DefaultKeyedRateLimiter<String>,
        user_id: &str,
        what: &'static str,
    ) -> AppResult<()> {
        limiter
            .check_key(&user_id.to_string())
            .map_err(|not_until| {
                metrics::counter!("classchat_rate_limited_total", "kind" => what).increment(1);
                let wait = not_until.wait_time_from(self.clock.now());
                AppError::rate_limited(wait.as_secs_f64().ceil() as u64)
            })
    }

    /// One message send by this user.
    pub fn send(&self, user_id: &str) -> AppResult<()> {
        self.check(&self.sends, user_id, "send")
    }

    /// One typing event by this user.
    pub fn typing(&self, user_id: &str) -> AppResult<()> {
        self.check(&self.typing, user_id, "typing")
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
    pub fn connect(&self, user_id: &str) -> AppResult<()> {
        self.check(&self.connects, user_id, "connect")
    }

    /// One status change by this user.
    pub fn status(&self, user_id: &str) -> AppResult<()> {
        self.check(&self.statuses, user_id, "status")
    }

    /// One room creation or 1:1 open by this user.
    pub fn room_create(&self, user_id: &str) -> AppResult<()> {
        self.check(&self.room_creates, user_id, "room_create")
    }

    /// One member add request by this user.
    pub fn member_add(&self, user_id: &str) -> AppResult<()> {
        self.check(&self.member_adds, user_id, "member_add")
    }

    /// One online-users query by this user.
    pub fn online_users(&self, user_id: &str) -> AppResult<()> {
        self.check(&self.online_users, user_id, "online_users")
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_over_the_limit_is_refused_with_retry_after() {
        let limits = Limits {
            send: Rate::new(1, 3),
            ..Limits::default()
        };
        let r = RateLimits::new(&limits);
        for _ in 0..3 {
            r.send("u").unwrap();
        }
        let e = r.send("u").unwrap_err();
        assert_eq!(
            (e.status, e.code, e.retry_after),
            (429, "rate_limited", Some(1))
        );
        assert!(r.send("other").is_ok());
    }
}
