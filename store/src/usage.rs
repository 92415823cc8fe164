//! Each org's LLM tokens per UTC day (`llm_usage_daily`): chat answers and generated
//! documents both count toward the org's daily budget, so both add here.

use sqlx::{Postgres, Transaction};
use uuid::Uuid;

/// Tokens the org has used today (UTC).
pub async fn used_today(tx: &mut Transaction<'_, Postgres>, org: Uuid) -> sqlx::Result<u64> {
    let used = sqlx::query_scalar!(
        "SELECT tokens FROM llm_usage_daily WHERE org_id = $1 AND day = (now() AT TIME ZONE 'UTC')::date",
        org
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(used.unwrap_or(0).max(0) as u64)
}

/// Adds `tokens` to the org's count for today.
pub async fn record(
    tx: &mut Transaction<'_, Postgres>,
    org: Uuid,
    tokens: u64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO llm_usage_daily (org_id, day, tokens)
         VALUES ($1, (now() AT TIME ZONE 'UTC')::date, $2)
         ON CONFLICT (org_id, day) DO UPDATE SET tokens = llm_usage_daily.tokens + EXCLUDED.tokens",
        org,
        i64::try_from(tokens).unwrap_or(i64::MAX),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
