//! Transactions scoped to one org, for row-level security.
//!
//! The settings are transaction-local (`set_config(.., true)`), so they vanish at COMMIT or
//! ROLLBACK and a pooled connection never carries one request's org into the next.

use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// Begins a transaction in which tenant tables show only `org`'s rows (and, when `user` is
/// given, that user's own memberships in other orgs).
pub async fn begin(
    pool: &PgPool,
    org: Option<Uuid>,
    user: Option<Uuid>,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT set_config('app.org_id', $1, true), set_config('app.user_id', $2, true)")
        .bind(org.map(|o| o.to_string()).unwrap_or_default())
        .bind(user.map(|u| u.to_string()).unwrap_or_default())
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}
