//! Client-facing events. The writer lives in `mediadocs-config`, so the API (which does not
//! link the activities) emits through the same function.

use serde_json::json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

pub use mediadocs_store::events::emit;
pub use mediadocs_workflows::pipeline::{percent_within, stage_percent};

/// `pipeline.progress`: the stage, the overall percentage and, in the map phase, chunks
/// summarised of the total.
pub async fn progress(
    tx: &mut Transaction<'_, Postgres>,
    org: Uuid,
    recording: Uuid,
    stage: &str,
    percent: u32,
    chunks: Option<(i64, u32)>,
) -> sqlx::Result<()> {
    let (done, total) = chunks.map_or((None, None), |(d, t)| (Some(d), Some(t)));
    let payload = json!({
        "recording_id": recording, "stage": stage, "percent": percent, "done": done, "total": total,
    });
    emit(tx, org, None, "pipeline.progress", payload).await?;
    Ok(())
}

/// `pipeline.progress` after a map chunk's summary is stored, in its transaction: counts
/// the chunks summarised so far (so a retried chunk is not counted twice).
pub async fn map_progress(
    tx: &mut Transaction<'_, Postgres>,
    org: Uuid,
    recording: Uuid,
    total: u32,
) -> sqlx::Result<()> {
    mediadocs_store::events::lock(tx, org).await?;
    let done: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM document_summaries WHERE recording_id = $1 AND level = 0",
    )
    .bind(recording)
    .fetch_one(&mut **tx)
    .await?;
    let percent = percent_within("generate", done.max(0) as u32, total);
    progress(tx, org, recording, "generate", percent, Some((done, total))).await
}

/// `pipeline.progress` after a Whisper chunk's segments are stored, in its transaction.
pub async fn transcription_progress(
    tx: &mut Transaction<'_, Postgres>,
    org: Uuid,
    recording: Uuid,
    job: Uuid,
    total: u32,
) -> sqlx::Result<()> {
    mediadocs_store::events::lock(tx, org).await?;
    let done: i64 =
        sqlx::query_scalar("SELECT count(*) FROM transcription_chunks WHERE job_id = $1")
            .bind(job)
            .fetch_one(&mut **tx)
            .await?;
    let percent = percent_within("transcribe", done.max(0) as u32, total);
    progress(
        tx,
        org,
        recording,
        "transcribe",
        percent,
        Some((done, total)),
    )
    .await
}
