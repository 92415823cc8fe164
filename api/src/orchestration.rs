//! Starting workflows from the API: the workflow ID, task queue and input for each.

use mediadocs_workflows::{
    MediaPipelineWorkflow, PingInput, PingOutput, PingWorkflow, RecordingRef, UploadExpiryWorkflow,
    names, recording::UploadDeadline,
};
use temporalio_client::{
    WorkflowIdConflictPolicy, WorkflowIdReusePolicy, errors::WorkflowStartError,
};
use uuid::Uuid;

use crate::{AppState, error::ApiError};
use temporalio_client::{Client, WorkflowGetResultOptions, WorkflowStartOptions};

/// Starts a diagnostic ping and waits for its result.
pub async fn ping(
    client: &Client,
    task_queue: &str,
    ping_id: &str,
    message: String,
) -> anyhow::Result<PingOutput> {
    let options = WorkflowStartOptions::new(task_queue, names::ping_workflow_id(ping_id)).build();
    let handle = client
        .start_workflow(PingWorkflow::run, PingInput { message }, options)
        .await?;
    Ok(handle
        .get_result(WorkflowGetResultOptions::default())
        .await?)
}

fn temporal_down(e: impl std::fmt::Debug) -> ApiError {
    ApiError::Unavailable {
        dependency: "temporal",
        detail: format!("{e:?}"),
    }
}

fn recording_ref(org: Uuid, recording: Uuid) -> RecordingRef {
    RecordingRef {
        org_id: org,
        recording_id: recording,
    }
}

/// Starts the timer that expires the upload if it is never completed.
pub async fn start_upload_expiry(
    state: &AppState,
    org: Uuid,
    recording: Uuid,
) -> Result<(), ApiError> {
    let id = names::upload_expiry_workflow_id(recording);
    let options = WorkflowStartOptions::new(state.settings.temporal.task_queue.clone(), id)
        .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
        .build();
    let deadline = UploadDeadline {
        recording: recording_ref(org, recording),
        ttl_secs: state.settings.uploads.upload_ttl.as_secs(),
    };
    state
        .temporal
        .start_workflow(UploadExpiryWorkflow::run, deadline, options)
        .await
        .map_err(temporal_down)?;
    Ok(())
}

/// Makes sure the pipeline of `recording` has been started, exactly once: a running one is
/// reused, a finished one is not started again.
pub async fn ensure_pipeline(
    state: &AppState,
    org: Uuid,
    recording: Uuid,
) -> Result<String, ApiError> {
    let started = start_pipeline(
        state,
        org,
        recording,
        WorkflowIdConflictPolicy::UseExisting,
        WorkflowIdReusePolicy::RejectDuplicate,
    )
    .await?;
    Ok(started.unwrap_or_else(|id| id))
}

/// Starts a new run of the pipeline of `recording`, whose last run failed. A running or
/// completed pipeline is refused (409): Temporal reuses the ID of a failed run only.
pub async fn restart_pipeline(
    state: &AppState,
    org: Uuid,
    recording: Uuid,
) -> Result<String, ApiError> {
    start_pipeline(
        state,
        org,
        recording,
        WorkflowIdConflictPolicy::Fail,
        WorkflowIdReusePolicy::AllowDuplicateFailedOnly,
    )
    .await?
    .map_err(|_| {
        ApiError::Conflict(
            "the pipeline is running or has completed; only a failed one can be retried".into(),
        )
    })
}

/// `Ok(Ok(id))` when a run started, `Ok(Err(id))` when the policies refused a new one.
async fn start_pipeline(
    state: &AppState,
    org: Uuid,
    recording: Uuid,
    conflict: WorkflowIdConflictPolicy,
    reuse: WorkflowIdReusePolicy,
) -> Result<Result<String, String>, ApiError> {
    let id = names::pipeline_workflow_id(recording);
    let options = WorkflowStartOptions::new(state.settings.temporal.task_queue.clone(), id.clone())
        .id_conflict_policy(conflict)
        .id_reuse_policy(reuse)
        .build();
    match state
        .temporal
        .start_workflow(
            MediaPipelineWorkflow::run,
            recording_ref(org, recording),
            options,
        )
        .await
    {
        Ok(_) => Ok(Ok(id)),
        Err(WorkflowStartError::AlreadyStarted { .. }) => Ok(Err(id)),
        Err(e) => Err(temporal_down(e)),
    }
}

/// Starts the regeneration run `generation` of the recording's document, once: a retried
/// request (same `Idempotency-Key`) finds the run already started, or starts it if the
/// first request stored it but never reached Temporal.
pub async fn start_regeneration(
    state: &AppState,
    org: Uuid,
    recording: Uuid,
    generation: Uuid,
) -> Result<String, ApiError> {
    use mediadocs_workflows::document::{DEFAULT_FAN_OUT, DocumentWorkflow, GenerateDocument};
    let id = names::regeneration_workflow_id(generation);
    let options = WorkflowStartOptions::new(state.settings.temporal.task_queue.clone(), id.clone())
        .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
        .build();
    let input = GenerateDocument {
        recording: recording_ref(org, recording),
        fan_out: DEFAULT_FAN_OUT as u32,
        generation: Some(generation),
    };
    match state
        .temporal
        .start_workflow(DocumentWorkflow::run, input, options)
        .await
    {
        Ok(_) | Err(WorkflowStartError::AlreadyStarted { .. }) => Ok(id),
        Err(e) => Err(temporal_down(e)),
    }
}
