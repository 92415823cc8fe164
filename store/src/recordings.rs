//! The one owner of a recording's lifecycle: its status, the moves between statuses that
//! are allowed, and everything written with a move (the `pipeline_events` log, the
//! client-facing event), plus the other columns the API and the activities both write.
//!
//! Callers pass a transaction begun with [`crate::tenancy::begin`] for the recording's
//! org, so row-level security applies and every write commits with its event.

use std::str::FromStr;

use mediadocs_workflows::{PipelineStage, StageStatus, names};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::events::Event;

/// `recordings.status`. Serialised lowercase, as the column and the API show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordingStatus {
    Uploading,
    Uploaded,
    Verifying,
    Transcribing,
    Generating,
    Embedding,
    Completed,
    Failed,
    Aborted,
    Expired,
    Rejected,
}

impl RecordingStatus {
    pub const ALL: [Self; 11] = [
        Self::Uploading,
        Self::Uploaded,
        Self::Verifying,
        Self::Transcribing,
        Self::Generating,
        Self::Embedding,
        Self::Completed,
        Self::Failed,
        Self::Aborted,
        Self::Expired,
        Self::Rejected,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Uploading => "uploading",
            Self::Uploaded => "uploaded",
            Self::Verifying => "verifying",
            Self::Transcribing => "transcribing",
            Self::Generating => "generating",
            Self::Embedding => "embedding",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Aborted => "aborted",
            Self::Expired => "expired",
            Self::Rejected => "rejected",
        }
    }

    /// Statuses the pipeline moves a recording between. Temporal's reset may move a
    /// recording back to an earlier stage, so within these every move is allowed.
    pub const fn in_pipeline(self) -> bool {
        matches!(
            self,
            Self::Uploaded
                | Self::Verifying
                | Self::Transcribing
                | Self::Generating
                | Self::Embedding
                | Self::Completed
                | Self::Failed
        )
    }

    /// Whether a recording in this status may move to `next`.
    pub const fn can_become(self, next: Self) -> bool {
        use RecordingStatus::*;
        match (self, next) {
            // The upload ends one of four ways.
            (Uploading, Uploaded | Aborted | Expired | Rejected) => true,
            // A retry starts the pipeline again from the top.
            (Failed, Uploaded) => true,
            // Verification found the stored object is not what was declared.
            (Uploaded | Verifying, Rejected) => true,
            (from, to) => from.in_pipeline() && to.in_pipeline() && !matches!(to, Uploaded),
        }
    }

    /// The status a pipeline transition leads to, if it changes the status.
    pub const fn after_stage(stage: PipelineStage, status: StageStatus) -> Option<Self> {
        match (stage, status) {
            (_, StageStatus::Failed) => Some(Self::Failed),
            (PipelineStage::Verify, StageStatus::Started) => Some(Self::Verifying),
            (PipelineStage::Transcribe, StageStatus::Started) => Some(Self::Transcribing),
            (PipelineStage::Generate, StageStatus::Started) => Some(Self::Generating),
            (PipelineStage::Embed, StageStatus::Started) => Some(Self::Embedding),
            (PipelineStage::Publish, StageStatus::Completed) => Some(Self::Completed),
            _ => None,
        }
    }
}

impl std::fmt::Display for RecordingStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("no recording status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for RecordingStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, UnknownStatus> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

impl sqlx::Type<Postgres> for RecordingStatus {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <&str as sqlx::Type<Postgres>>::type_info()
    }
    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <&str as sqlx::Type<Postgres>>::compatible(ty)
    }
}

impl sqlx::Encode<'_, Postgres> for RecordingStatus {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<Postgres>>::encode(self.as_str(), buf)
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for RecordingStatus {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(<&str as sqlx::Decode<Postgres>>::decode(value)?.parse()?)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("a {from} recording cannot become {to}")]
    IllegalTransition {
        from: RecordingStatus,
        to: RecordingStatus,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A status change, and what it writes beside the status.
#[derive(Debug, Clone, Copy)]
pub struct StatusChange<'a> {
    pub to: RecordingStatus,
    /// The pipeline stage that made the change; `None` for the API's own changes.
    pub stage: Option<PipelineStage>,
    /// `status_reason`, in words fit for the recording's owners; cleared when `None`.
    pub reason: Option<&'a str>,
}

impl<'a> StatusChange<'a> {
    pub const fn to(to: RecordingStatus) -> Self {
        Self {
            to,
            stage: None,
            reason: None,
        }
    }

    pub const fn because(self, reason: &'a str) -> Self {
        Self {
            reason: Some(reason),
            ..self
        }
    }
}

/// Moves the recording to `change.to` and emits `recording.status_changed`, in `tx`.
/// Returns the previous status, or `None` when the recording is gone (deleted). A move to
/// the status it already has writes nothing; a move [`RecordingStatus::can_become`] forbids
/// is an error and writes nothing.
///
/// Leaving `uploading` forgets the upload ID; reaching `uploaded` from it stamps
/// `uploaded_at` and names the pipeline's workflow; `failed` records the stage.
pub async fn set_status(
    tx: &mut Transaction<'_, Postgres>,
    org: Uuid,
    id: Uuid,
    change: StatusChange<'_>,
) -> Result<Option<RecordingStatus>, RecordingError> {
    let Some(from) = status_for_update(tx, id).await? else {
        return Ok(None);
    };
    if from == change.to {
        return Ok(Some(from));
    }
    if !from.can_become(change.to) {
        return Err(RecordingError::IllegalTransition {
            from,
            to: change.to,
        });
    }
    sqlx::query!(
        "UPDATE recordings SET status = $2, updated_at = now(), status_reason = $3,
             failed_stage = CASE WHEN $2 = 'failed' THEN $4 ELSE NULL END,
             upload_id = CASE WHEN status = 'uploading' THEN NULL ELSE upload_id END,
             uploaded_at = CASE WHEN status = 'uploading' AND $2 = 'uploaded' THEN now()
                                ELSE uploaded_at END,
             workflow_id = CASE WHEN $2 = 'uploaded' THEN $5 ELSE workflow_id END
         WHERE id = $1",
        id,
        change.to.as_str(),
        change.reason,
        change.stage.map(PipelineStage::as_str),
        names::pipeline_workflow_id(id),
    )
    .execute(&mut **tx)
    .await?;
    Event::StatusChanged {
        recording_id: id,
        status: change.to,
        previous: from,
        stage: change.stage,
    }
    .emit(tx, org)
    .await?;
    Ok(Some(from))
}

/// A pipeline stage's transition, recorded once per workflow run (`run_id`): logs it in
/// `pipeline_events`, moves the status where the transition changes it, and emits the
/// progress or failure event. A repeated call for the same run writes nothing.
///
/// A recording that left the pipeline (rejected by verification) keeps its status: the
/// transition is logged, and the run's failure is already on the recording.
pub async fn record_stage(
    tx: &mut Transaction<'_, Postgres>,
    org: Uuid,
    id: Uuid,
    stage: PipelineStage,
    status: StageStatus,
    message: Option<&str>,
    run_id: &str,
) -> Result<(), RecordingError> {
    let Some(current) = status_for_update(tx, id).await? else {
        return Ok(());
    };
    let logged = sqlx::query!(
        "INSERT INTO pipeline_events (org_id, recording_id, stage, status, detail, run_id)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        org,
        id,
        stage.as_str(),
        status.as_str(),
        serde_json::json!({ "message": message }),
        run_id,
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if logged == 0 || !current.in_pipeline() {
        return Ok(());
    }
    if let Some(to) = RecordingStatus::after_stage(stage, status) {
        let change = StatusChange {
            to,
            stage: Some(stage),
            reason: message.filter(|_| to == RecordingStatus::Failed),
        };
        set_status(tx, org, id, change).await?;
    }
    let event = match status {
        StageStatus::Started => Event::Progress {
            recording_id: id,
            stage,
            percent: stage.percent(),
            steps: None,
        },
        StageStatus::Failed => Event::Failed {
            recording_id: id,
            stage,
            message: message.map(str::to_owned),
        },
        StageStatus::Completed => return Ok(()),
    };
    event.emit(tx, org).await?;
    Ok(())
}

async fn status_for_update(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
) -> sqlx::Result<Option<RecordingStatus>> {
    sqlx::query_scalar!(
        r#"SELECT status AS "status: RecordingStatus" FROM recordings WHERE id = $1 FOR UPDATE"#,
        id,
    )
    .fetch_optional(&mut **tx)
    .await
}

/// Renames the recording. Returns whether it exists.
pub async fn rename(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    title: &str,
) -> sqlx::Result<bool> {
    let renamed = sqlx::query!(
        "UPDATE recordings SET title = $2, updated_at = now() WHERE id = $1",
        id,
        title,
    )
    .execute(&mut **tx)
    .await?;
    Ok(renamed.rows_affected() == 1)
}

/// Stores what probing found, unless an earlier probe stored first. Returns the stored
/// value (the earlier one, if any), or `None` when the recording is gone.
pub async fn store_media_info(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    info: &serde_json::Value,
) -> sqlx::Result<Option<serde_json::Value>> {
    let stored: Option<Option<serde_json::Value>> = sqlx::query_scalar!(
        "UPDATE recordings SET media_info = COALESCE(media_info, $2), updated_at = now()
         WHERE id = $1 RETURNING media_info",
        id,
        info,
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(stored.flatten())
}

#[derive(Debug, thiserror::Error)]
pub enum SizeCheckError {
    /// The recording is now `rejected` and its object deleted; `reason` says why.
    #[error("{reason}")]
    Mismatch { reason: String },
    #[error("reading the stored object's size: {0:#}")]
    Storage(anyhow::Error),
    #[error(transparent)]
    Recording(#[from] RecordingError),
}

/// Checks that the stored object has the size the upload declared. The API checks when it
/// completes the upload and verification checks again before anything reads the object;
/// either way a mismatch has one outcome: the object is deleted and the recording
/// `rejected` with the sizes as its reason, in `tx`. Returns the stored size.
pub async fn check_stored_size(
    tx: &mut Transaction<'_, Postgres>,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    org: Uuid,
    id: Uuid,
    key: &str,
    declared: i64,
) -> Result<i64, SizeCheckError> {
    let stored = crate::objects::stored_size(s3, bucket, key)
        .await
        .map_err(SizeCheckError::Storage)?;
    if stored == declared {
        return Ok(stored);
    }
    s3.delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| SizeCheckError::Storage(e.into()))?;
    let reason = format!("the stored file has {stored} bytes, but {declared} were declared");
    let change = StatusChange::to(RecordingStatus::Rejected).because(&reason);
    set_status(tx, org, id, change).await?;
    Err(SizeCheckError::Mismatch { reason })
}

#[cfg(test)]
mod tests {
    use super::RecordingStatus::{self, *};

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in RecordingStatus::ALL {
            assert_eq!(status.as_str().parse::<RecordingStatus>(), Ok(status));
        }
        assert!("deleted".parse::<RecordingStatus>().is_err());
    }

    #[test]
    fn uploads_end_one_of_four_ways_and_never_restart() {
        for to in [Uploaded, Aborted, Expired, Rejected] {
            assert!(Uploading.can_become(to), "{to}");
        }
        for to in [Verifying, Completed, Failed] {
            assert!(!Uploading.can_become(to), "{to}");
        }
        for from in RecordingStatus::ALL {
            assert!(!from.can_become(Uploading), "{from}");
        }
    }

    #[test]
    fn side_exits_are_final_and_only_a_failure_is_retried() {
        for from in [Aborted, Expired, Rejected] {
            for to in RecordingStatus::ALL {
                assert!(!from.can_become(to), "{from} -> {to}");
            }
        }
        assert!(Failed.can_become(Uploaded));
        assert!(!Completed.can_become(Uploaded));
        assert!(!Transcribing.can_become(Uploaded));
    }

    #[test]
    fn a_reset_may_move_the_pipeline_back() {
        assert!(Completed.can_become(Verifying));
        assert!(Failed.can_become(Generating));
        assert!(Verifying.can_become(Rejected));
        assert!(!Completed.can_become(Rejected));
    }
}
