//! Regeneration runs (`document_generations`): at most one running per recording, found again
//! by the caller's `Idempotency-Key`, finished by the worker in the transaction that writes
//! their version or records their failure.

use sqlx::{Postgres, Transaction};
use uuid::Uuid;

type Tx<'c> = Transaction<'c, Postgres>;

/// What a regeneration asks for.
#[derive(Debug, Clone)]
pub struct NewGeneration<'a> {
    pub recording: Uuid,
    pub template: Option<Uuid>,
    pub instructions: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub requested_by: Option<Uuid>,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    pub id: Uuid,
    pub recording_id: Uuid,
    pub template_id: Option<Uuid>,
    pub instructions: String,
    pub status: String,
    pub error: Option<String>,
    pub version: Option<i32>,
    pub requested_by: Option<Uuid>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another regeneration of the recording is running.
    #[error("another regeneration of the recording is running")]
    Running,
    /// A concurrent request with the same key stored its run first; the caller's
    /// transaction is spent, so it starts again and finds that run.
    #[error("a concurrent request with the same key won")]
    Retry,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Starts a run, or finds the one the same key started (`false`: nothing new was stored).
pub async fn start(
    tx: &mut Tx<'_>,
    org: Uuid,
    g: &NewGeneration<'_>,
) -> Result<(Generation, bool), StartError> {
    if let Some(key) = g.idempotency_key
        && let Some(found) = by_key(tx, g.recording, key).await?
    {
        return Ok((found, false));
    }
    let id = Uuid::now_v7();
    let inserted = sqlx::query!(
        "INSERT INTO document_generations (id, org_id, recording_id, template_id, instructions,
             idempotency_key, requested_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id,
        org,
        g.recording,
        g.template,
        g.instructions,
        g.idempotency_key,
        g.requested_by,
    )
    .execute(&mut **tx)
    .await;
    // A run already running, or a concurrent start with the same key: the constraint hit
    // says which.
    if let Err(sqlx::Error::Database(e)) = &inserted {
        match e.constraint() {
            Some("document_generations_one_running") => {
                return Err(StartError::Running);
            }
            Some("document_generations_recording_id_idempotency_key_key") => {
                return Err(StartError::Retry);
            }
            _ => {}
        }
    }
    inserted?;
    Ok((get(tx, id).await?.expect("inserted above"), true))
}

pub async fn get(tx: &mut Tx<'_>, id: Uuid) -> sqlx::Result<Option<Generation>> {
    sqlx::query_as!(
        Generation,
        "SELECT id, recording_id, template_id, instructions, status, error, version, requested_by
         FROM document_generations WHERE id = $1",
        id
    )
    .fetch_optional(&mut **tx)
    .await
}

async fn by_key(tx: &mut Tx<'_>, recording: Uuid, key: &str) -> sqlx::Result<Option<Generation>> {
    sqlx::query_as!(
        Generation,
        "SELECT id, recording_id, template_id, instructions, status, error, version, requested_by
         FROM document_generations WHERE recording_id = $1 AND idempotency_key = $2",
        recording,
        key
    )
    .fetch_optional(&mut **tx)
    .await
}

/// The run wrote `version`. Idempotent.
pub async fn succeeded(tx: &mut Tx<'_>, id: Uuid, version: i32) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE document_generations SET status = 'succeeded', version = $2, error = NULL,
             finished_at = COALESCE(finished_at, now())
         WHERE id = $1",
        id,
        version
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The run failed; `false` when it had already finished (a retried activity).
pub async fn failed(tx: &mut Tx<'_>, id: Uuid, reason: &str) -> sqlx::Result<bool> {
    let updated = sqlx::query!(
        "UPDATE document_generations SET status = 'failed', error = $2, finished_at = now()
         WHERE id = $1 AND status = 'running'",
        id,
        reason
    )
    .execute(&mut **tx)
    .await?;
    Ok(updated.rows_affected() == 1)
}
