//! Client-facing events: written in the caller's transaction, so an event exists exactly
//! when the change it reports was committed. A trigger NOTIFYs the API instances, which fan
//! the event out over WebSocket and SSE. Activities and API handlers both call [`emit`].

use mediadocs_workflows::PipelineStage;
use serde_json::{Value, json};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::{documents::VersionSource, recordings::RecordingStatus};

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
    sqlx::query_scalar!(
        "INSERT INTO events (org_id, user_id, type, payload) VALUES ($1, $2, $3, $4) RETURNING id",
        org,
        user,
        kind,
        payload,
    )
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

/// The events the product emits, with their payloads. Clients read `type` and the payload's
/// fields; renaming one breaks them.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `recording.status_changed`: `stage` is the pipeline stage that moved it, or `None`
    /// when an API handler did (upload completed, rejected or aborted; a retry).
    StatusChanged {
        recording_id: Uuid,
        status: RecordingStatus,
        previous: RecordingStatus,
        stage: Option<PipelineStage>,
    },
    /// `pipeline.progress`: the stage, the overall percentage and, within a stage that
    /// counts steps (map chunks, Whisper chunks), the steps done of the total.
    Progress {
        recording_id: Uuid,
        stage: PipelineStage,
        percent: u32,
        steps: Option<(i64, u32)>,
    },
    /// `recording.failed`
    Failed {
        recording_id: Uuid,
        stage: PipelineStage,
        message: Option<String>,
    },
    /// `document.ready`
    DocumentReady {
        recording_id: Uuid,
        document_id: Uuid,
        version: i32,
        title: String,
    },
    /// `recording.deleted`
    Deleted { recording_id: Uuid },
    /// `document.updated`: a new version became current (an edit, a restore, a
    /// regeneration). `author` is the person who made it, if one did.
    DocumentUpdated {
        recording_id: Uuid,
        document_id: Uuid,
        version: i32,
        source: VersionSource,
        author: Option<Uuid>,
    },
    /// `document.generation_failed`: the current version, if any, stays current.
    DocumentGenerationFailed {
        recording_id: Uuid,
        document_id: Uuid,
        reason: String,
    },
}

impl Event {
    pub const fn type_name(&self) -> &'static str {
        match self {
            Self::StatusChanged { .. } => "recording.status_changed",
            Self::Progress { .. } => "pipeline.progress",
            Self::Failed { .. } => "recording.failed",
            Self::DocumentReady { .. } => "document.ready",
            Self::Deleted { .. } => "recording.deleted",
            Self::DocumentUpdated { .. } => "document.updated",
            Self::DocumentGenerationFailed { .. } => "document.generation_failed",
        }
    }

    pub fn payload(&self) -> Value {
        match self {
            Self::StatusChanged {
                recording_id,
                status,
                previous,
                stage,
            } => json!({
                "recording_id": recording_id, "status": status.as_str(),
                "previous": previous.as_str(), "stage": stage.map(PipelineStage::as_str),
            }),
            Self::Progress {
                recording_id,
                stage,
                percent,
                steps,
            } => {
                let (done, total) = steps.map_or((None, None), |(d, t)| (Some(d), Some(t)));
                json!({
                    "recording_id": recording_id, "stage": stage.as_str(), "percent": percent,
                    "done": done, "total": total,
                })
            }
            Self::Failed {
                recording_id,
                stage,
                message,
            } => {
                json!({ "recording_id": recording_id, "stage": stage.as_str(), "message": message })
            }
            Self::DocumentReady {
                recording_id,
                document_id,
                version,
                title,
            } => json!({
                "recording_id": recording_id, "document_id": document_id, "version": version,
                "title": title,
            }),
            Self::Deleted { recording_id } => json!({ "recording_id": recording_id }),
            Self::DocumentUpdated {
                recording_id,
                document_id,
                version,
                source,
                author,
            } => json!({
                "recording_id": recording_id, "document_id": document_id, "version": version,
                "source": source.as_str(), "author": author,
            }),
            Self::DocumentGenerationFailed {
                recording_id,
                document_id,
                reason,
            } => json!({
                "recording_id": recording_id, "document_id": document_id, "reason": reason,
            }),
        }
    }

    /// Appends the event to the org's feed, for the whole org, in `tx`.
    pub async fn emit(&self, tx: &mut Transaction<'_, Postgres>, org: Uuid) -> sqlx::Result<i64> {
        emit(tx, org, None, self.type_name(), self.payload()).await
    }
}
