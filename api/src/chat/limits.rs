//! Chat's limits: a token bucket per user (or API key) for questions, and a daily LLM token
//! budget per org. Both answer 429 with `Retry-After` before any provider is called.

use std::{num::NonZeroU32, sync::Arc};

use chrono::{DateTime, Days, NaiveTime, Utc};
use governor::{
    DefaultKeyedRateLimiter, Quota,
    clock::{Clock, DefaultClock},
};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::error::ApiError;

#[derive(Clone)]
pub struct ChatLimiter {
    per_actor: Arc<DefaultKeyedRateLimiter<Uuid>>,
}

impl ChatLimiter {
    /// `per_minute` questions a minute, after a burst of `burst`.
    pub fn new(per_minute: NonZeroU32, burst: NonZeroU32) -> Self {
        Self {
            per_actor: Arc::new(governor::RateLimiter::keyed(
                Quota::per_minute(per_minute).allow_burst(burst),
            )),
        }
    }

    /// Takes a token from `actor`'s bucket, or 429 with the wait for the next one.
    pub fn check(&self, actor: Uuid) -> Result<(), ApiError> {
        let clock = DefaultClock::default();
        self.per_actor
            .check_key(&actor)
            .map_err(|not_until| ApiError::TooManyRequests {
                retry_after_secs: not_until.wait_time_from(clock.now()).as_secs_f64().ceil() as u64,
            })?;
        // Keys of idle buckets would otherwise accumulate forever.
        if self.per_actor.len() > 100_000 {
            self.per_actor.retain_recent();
        }
        Ok(())
    }
}

/// 429 until the next UTC midnight when the org has used `budget` tokens today.
///
/// Answers in flight are counted when they end, so concurrent questions can overshoot the
/// budget by what they use; a budget is a cost ceiling, not an exact meter.
pub async fn check_budget(
    tx: &mut Transaction<'static, Postgres>,
    org: Uuid,
    budget: u64,
) -> Result<(), ApiError> {
    let used = mediadocs_store::usage::used_today(tx, org).await?;
    if used >= budget {
        return Err(ApiError::TooManyRequests {
            retry_after_secs: secs_to_midnight(Utc::now()),
        });
    }
    Ok(())
}

fn secs_to_midnight(now: DateTime<Utc>) -> u64 {
    let tomorrow = now
        .date_naive()
        .checked_add_days(Days::new(1))
        .unwrap_or(now.date_naive())
        .and_time(NaiveTime::MIN)
        .and_utc();
    (tomorrow - now).num_seconds().max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_resets_at_utc_midnight() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(secs_to_midnight(at("2026-11-23T23:59:00Z")), 60);
        assert_eq!(secs_to_midnight(at("2026-11-23T00:00:00Z")), 86_400);
    }

    #[test]
    fn the_bucket_allows_its_burst_then_refuses_with_a_wait() {
        let limiter = ChatLimiter::new(NonZeroU32::new(1).unwrap(), NonZeroU32::new(2).unwrap());
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert!(limiter.check(a).is_ok() && limiter.check(a).is_ok());
        let Err(ApiError::TooManyRequests { retry_after_secs }) = limiter.check(a) else {
            panic!("the third question within a minute is refused");
        };
        assert!((1..=60).contains(&retry_after_secs), "{retry_after_secs}");
        assert!(limiter.check(b).is_ok(), "buckets are per actor");
    }
}
