//! `pipeline.progress` for the steps the activities count: map chunks summarised and
//! Whisper chunks transcribed. The event and its writer are the store's.

use mediadocs_store::events::{Event, lock};
use mediadocs_workflows::PipelineStage;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

/// After a map chunk's summary is stored, in its transaction: counts the chunks summarised
/// so far (so a retried chunk is not counted twice).
pub async fn map_progress(
    tx: &mut Transaction<'_, Postgres>,
    org: Uuid,
    recording: Uuid,
    total: u32,
) -> sqlx::Result<()> {
    lock(tx, org).await?;
    let done: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM document_summaries WHERE recording_id = $1 AND level = 0",
    )
    .bind(recording)
    .fetch_one(&mut **tx)
    .await?;
    steps(tx, org, recording, PipelineStage::Generate, done, total).await
}

/// After a Whisper chunk's segments are stored, in its transaction.
pub async fn transcription_progress(
    tx: &mut Transaction<'_, Postgres>,
    org: Uuid,
    recording: Uuid,
    job: Uuid,
    total: u32,
) -> sqlx::Result<()> {
    lock(tx, org).await?;
    let done: i64 =
        sqlx::query_scalar("SELECT count(*) FROM transcription_chunks WHERE job_id = $1")
            .bind(job)
            .fetch_one(&mut **tx)
            .await?;
    steps(tx, org, recording, PipelineStage::Transcribe, done, total).await
}

/// The count is taken under the org's event lock, so two concurrent steps cannot both
/// report the same total.
async fn steps(
    tx: &mut Transaction<'_, Postgres>,
    org: Uuid,
    recording: Uuid,
    stage: PipelineStage,
    done: i64,
    total: u32,
) -> sqlx::Result<()> {
    Event::Progress {
        recording_id: recording,
        stage,
        percent: stage.percent_within(done.max(0) as u32, total),
        steps: Some((done, total)),
    }
    .emit(tx, org)
    .await?;
    Ok(())
}
