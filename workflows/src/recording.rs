//! A recording's identity and upload timer, and the contracts of its record-keeping activities.
//! The media pipeline itself is in [`crate::media_pipeline`].
//!
//! Inputs and outputs carry IDs only; everything large lives in PostgreSQL and S3.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_common::{ActivityError, SearchAttributeKey};
use temporalio_macros::{activity_definitions, workflow, workflow_methods};
use temporalio_workflow::{ActivityOptions, WorkflowContext, WorkflowResult};
use uuid::Uuid;

use crate::failure::backoff;

pub const ORG_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("OrgId");
pub const RECORDING_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("RecordingId");
pub const PIPELINE_STAGE: SearchAttributeKey<String> = SearchAttributeKey::keyword("PipelineStage");

/// Which recording, in which org. Serialised as two UUID strings, as it always was.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecordingRef {
    pub org_id: Uuid,
    pub recording_id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UploadDeadline {
    pub recording: RecordingRef,
    /// Seconds from the upload's creation until it expires.
    pub ttl_secs: u64,
}

/// What verification found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Verified {
    pub stored_bytes: i64,
}

pub struct RecordingActivities;

#[activity_definitions]
impl RecordingActivities {
    /// Aborts the multipart upload and marks the recording `expired`, if it is still
    /// uploading. Returns whether it did; idempotent.
    #[activity(name = "recordings.expire_upload")]
    pub fn expire_upload(recording: RecordingRef) -> Result<bool, ActivityError> {
        unimplemented!()
    }

    /// Checks that the stored object has the declared size. A mismatch rejects the
    /// recording (as the upload's completion would have) and is a non-retryable
    /// `SizeMismatch`.
    #[activity(name = "recordings.verify_stored_size")]
    pub fn verify_stored_size(recording: RecordingRef) -> Result<Verified, ActivityError> {
        unimplemented!()
    }
}

pub use recording_activities::ExpireUpload as ExpireUploadDef;
pub use recording_activities::VerifyStoredSize as VerifyStoredSizeDef;

/// Bookkeeping in PostgreSQL: quick, and retried while the database is away.
pub(crate) fn db_activity() -> ActivityOptions {
    retried_within(Duration::from_secs(60))
}

/// Retried with backoff (1 s, doubling to a minute) until it succeeds or fails in a way
/// retrying cannot fix; each attempt bounded by `timeout`.
pub(crate) fn retried_within(timeout: Duration) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(timeout)
        .retry_policy(backoff(Duration::from_secs(1), Duration::from_secs(60), 0))
        .build()
}

/// Started with each upload: sleeps for the upload TTL on a durable timer, then expires the
/// upload if nobody completed or aborted it.
#[workflow]
#[derive(Default)]
pub struct UploadExpiryWorkflow;

#[workflow_methods]
impl UploadExpiryWorkflow {
    #[run(name = "UploadExpiryWorkflow")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        deadline: UploadDeadline,
    ) -> WorkflowResult<bool> {
        ctx.timer(Duration::from_secs(deadline.ttl_secs)).await;
        Ok(ctx
            .execute_activity(
                RecordingActivities::expire_upload,
                deadline.recording,
                db_activity(),
            )
            .await?)
    }
}
