//! Client-facing events: written in the caller's transaction, so an event exists exactly
//! when the change it reports was committed. A trigger NOTIFYs the API instances, which fan
//! the event out over WebSocket and SSE. Activities and API handlers both call [`emit`].

use serde_json::Value;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

/// Appends an event to the org's feed; `user` narrows it to one person.
///
/// Within one org, events become visible in ID order: a transaction-level advisory lock per
/// org is taken before the ID is drawn and held until COMMIT, so no event of the org can
/// commit with a lower ID than one already visible. That is what lets a client resume with
/// "everything after ID n" and the API instances read "everything after the last one I saw"
/// without ever skipping a late committer. Emit late in the transaction (after its row
/// locks), so the lock is held briefly and always taken in the same order.
pub async fn emit(
    tx: &mut Transaction<'_, Postgres>,
    org: Uuid,
    user: Option<Uuid>,
    kind: &str,
    payload: Value,
) -> sqlx::Result<i64> {
    lock(tx, org).await?;
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

/// Takes the org's event lock (see [`emit`]) until COMMIT. A writer that counts what its
/// event reports (chunks done so far, say) takes it before counting, so two concurrent
/// writers cannot both count the same total.
pub async fn lock(tx: &mut Transaction<'_, Postgres>, org: Uuid) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(EVENT_LOCK_SPACE)
        .bind(org.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The first key of the two-key advisory lock, so event locks never collide with other
/// advisory locks (which use the one-key form or other spaces).
const EVENT_LOCK_SPACE: i32 = 0x6576_6e74; // "evnt"
