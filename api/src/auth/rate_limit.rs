//! Login throttling, per account and per client IP.
//!
//! Separate buckets mean an attacker hammering one account exhausts only that account's
//! bucket (and their own IP's), never other people's.

use std::{net::IpAddr, num::NonZeroU32, sync::Arc};

use governor::{
    DefaultKeyedRateLimiter, Quota,
    clock::{Clock, DefaultClock},
};

use crate::error::ApiError;

#[derive(Clone)]
pub struct LoginLimiter {
    per_account: Arc<DefaultKeyedRateLimiter<String>>,
    per_ip: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl LoginLimiter {
    /// `per_account` and `per_ip` attempts per minute, each allowed as an immediate burst.
    pub fn new(per_account: NonZeroU32, per_ip: NonZeroU32) -> Self {
        Self {
            per_account: Arc::new(governor::RateLimiter::keyed(Quota::per_minute(per_account))),
            per_ip: Arc::new(governor::RateLimiter::keyed(Quota::per_minute(per_ip))),
        }
    }

    /// Counts an attempt; over either limit, a 429 with the time until the next token.
    pub fn check(&self, account: &str, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let clock = DefaultClock::default();
        let wait = |not_until: governor::NotUntil<_>| ApiError::TooManyRequests {
            retry_after_secs: not_until.wait_time_from(clock.now()).as_secs_f64().ceil() as u64,
        };
        if let Some(ip) = ip {
            self.per_ip.check_key(&ip).map_err(wait)?;
        }
        self.per_account
            .check_key(&account.to_owned())
            .map_err(wait)?;
        // Keys of idle buckets would otherwise accumulate forever.
        if self.per_account.len() > 100_000 {
            self.per_account.retain_recent();
            self.per_ip.retain_recent();
        }
        Ok(())
    }
}
