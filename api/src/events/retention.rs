//! Pruning the feed: events older than `EVENTS_RETENTION_SECS` (7 days by default), and
//! tickets never redeemed. Every API instance runs this every `EVENTS_PRUNE_INTERVAL_SECS`;
//! the deletes are idempotent, so several instances doing it is harmless.

use std::time::Duration;

use sqlx::PgPool;

pub async fn prune_periodically(pool: PgPool, retention: Duration, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match prune(&pool, retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "pruned the event feed"),
            Err(e) => tracing::warn!(error = %e, "pruning the event feed failed"),
        }
    }
}

/// Deletes what is past retention; returns the number of events deleted.
pub async fn prune(pool: &PgPool, retention: Duration) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT prune_event_feed(make_interval(secs => $1))")
        .bind(retention.as_secs_f64())
        .fetch_one(pool)
        .await
}
