//! Client-facing events: written in the caller's transaction, so an event exists exactly
//! when the change it reports was committed. A trigger NOTIFYs the API instances.

use serde_json::Value;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

/// Appends an event to the org's feed; `user` narrows it to one person.
pub async fn emit(
    tx: &mut Transaction<'_, Postgres>,
    org: Uuid,
    user: Option<Uuid>,
    kind: &str,
    payload: Value,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO events (org_id, user_id, type, payload) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(org)
    .bind(user)
    .bind(kind)
    .bind(payload)
    .fetch_one(&mut **tx)
    .await
}
