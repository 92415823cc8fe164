//! The media pipeline of one recording, `MediaPipelineWorkflow`, ID `recording-{id}`,
//! started by upload completion: verify → transcribe → generate → embed → publish.
//!
//! Each stage is entered and left through the `pipeline.transition` activity, which moves
//! the recording's status and logs the transition (once per run) with the event clients
//! follow. A stage that fails records why on the recording and fails the run with the same
//! failure type, so the Temporal UI and the recording's page tell the same story.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_common::{RetryPolicy, error::ActivityExecutionError};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    ActivityOptions, CancellableFuture, SyncWorkflowContext, WorkflowContext, WorkflowContextView,
    WorkflowResult, WorkflowTermination, select,
};

use crate::{
    FailureKind, PipelineStage, StageStatus,
    bookkeeping::{BookkeepingActivities, Progress, Publish, StageTransition},
    document::{self, DEFAULT_FAN_OUT, DocumentActivities, DocumentRef, GenerationFailure},
    embedding::{EmbeddingActivities, embed_activity},
    failure::{StageFailure, backoff},
    media::MediaActivities,
    recording::{
        ORG_ID, PIPELINE_STAGE, RECORDING_ID, RecordingActivities, RecordingRef, db_activity,
        retried_within,
    },
    transcription::{
        CollectTranscript, Collected, SubmitTranscription, TranscriptionActivities,
        TranscriptionFinished,
    },
};

/// What a pipeline run produced.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PipelineOutcome {
    pub stored_bytes: i64,
    pub transcript_segments: u32,
    /// `None` when generation failed (the recording still completes, searchable).
    pub document_id: Option<uuid::Uuid>,
    pub passages: u32,
}

/// Probing reads a few blocks of the object; a format or content failure is final.
fn media_activity() -> ActivityOptions {
    retried_within(Duration::from_secs(300))
}

/// Provider calls: retried with backoff for as long as the provider is down, but never for
/// failures that retrying cannot fix.
fn provider_retry() -> RetryPolicy {
    backoff(Duration::from_secs(2), Duration::from_secs(120), 20)
}

fn provider_activity() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(120))
        .retry_policy(provider_retry())
        .build()
}

/// Transcribing chunk by chunk takes as long as the audio needs, so the activity is bounded
/// by the configured give-up time and watched by its heartbeat (sent every 5 s): a dead
/// worker is noticed in 30 s, and the retry resumes from the chunks already stored.
fn chunked_transcription_activity(timeout_secs: u64) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(timeout_secs.max(60)))
        .heartbeat_timeout(Duration::from_secs(30))
        .retry_policy(provider_retry())
        .build()
}

#[workflow]
#[derive(Default)]
pub struct MediaPipelineWorkflow {
    /// Finished transcription jobs by our job ID; the first report of each job wins, so a
    /// duplicate webhook changes nothing.
    transcriptions: std::collections::BTreeMap<String, TranscriptionFinished>,
    /// The stage the run is in, which a failure is recorded against.
    stage: PipelineStage,
    progress: Progress,
}

#[workflow_methods]
impl MediaPipelineWorkflow {
    #[run(name = "MediaPipelineWorkflow")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        recording: RecordingRef,
    ) -> WorkflowResult<PipelineOutcome> {
        ctx.upsert_search_attributes([
            ORG_ID.value_set(recording.org_id.to_string()),
            RECORDING_ID.value_set(recording.recording_id.to_string()),
        ]);
        match stages(ctx, &recording).await {
            Ok(outcome) => Ok(outcome),
            Err(failure) => Err(fail(ctx, &recording, failure).await),
        }
    }

    #[signal(name = "transcription_finished")]
    pub fn transcription_finished(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        finished: TranscriptionFinished,
    ) {
        self.transcriptions
            .entry(finished.job_id.clone())
            .or_insert(finished);
    }

    /// Where the run is: the stage, the overall percentage, and map chunks done of total.
    #[query(name = "progress")]
    pub fn progress(&self, _ctx: &WorkflowContextView) -> Progress {
        self.progress.clone()
    }
}

type Ctx = WorkflowContext<MediaPipelineWorkflow>;

async fn stages(ctx: &mut Ctx, recording: &RecordingRef) -> Result<PipelineOutcome, StageFailure> {
    enter(ctx, recording, PipelineStage::Verify).await?;
    let verified = ctx
        .execute_activity(
            RecordingActivities::verify_stored_size,
            *recording,
            db_activity(),
        )
        .await?;
    ctx.execute_activity(MediaActivities::probe, *recording, media_activity())
        .await?;
    leave(ctx, recording, PipelineStage::Verify).await?;

    enter(ctx, recording, PipelineStage::Transcribe).await?;
    let segments = transcribe(ctx, recording).await?;
    leave(ctx, recording, PipelineStage::Transcribe).await?;

    enter(ctx, recording, PipelineStage::Generate).await?;
    let document = if ctx.patched(DOCUMENT_FAILURE_KEEPS_GOING) {
        generate_or_record(ctx, recording).await?
    } else {
        Some(generate(ctx, recording).await?)
    };
    leave(ctx, recording, PipelineStage::Generate).await?;

    enter(ctx, recording, PipelineStage::Embed).await?;
    let embedded = ctx
        .execute_activity(
            EmbeddingActivities::embed_transcript,
            *recording,
            embed_activity(),
        )
        .await?;
    leave(ctx, recording, PipelineStage::Embed).await?;

    enter(ctx, recording, PipelineStage::Publish).await?;
    if let Some(document) = &document {
        let publish = Publish {
            recording: *recording,
            document_id: document.document_id,
        };
        ctx.execute_activity(BookkeepingActivities::publish, publish, db_activity())
            .await?;
    }
    leave(ctx, recording, PipelineStage::Publish).await?;
    ctx.state_mut(|s| s.progress.percent = 100);

    Ok(PipelineOutcome {
        stored_bytes: verified.stored_bytes,
        transcript_segments: segments,
        document_id: document.map(|d| d.document_id),
        passages: embedded.passages,
    })
}

/// Runs from here on write the document's failure down and go on to embed the transcript,
/// so a recording whose document could not be written is still searchable; runs from before
/// it failed the pipeline at `generate`.
const DOCUMENT_FAILURE_KEEPS_GOING: &str = "document-failure-keeps-going";

async fn generate(ctx: &mut Ctx, recording: &RecordingRef) -> Result<DocumentRef, StageFailure> {
    Ok(
        document::generate(ctx, recording, None, DEFAULT_FAN_OUT, |s, done, total| {
            s.progress.chunks_done = done;
            s.progress.chunks_total = total;
            s.progress.percent = PipelineStage::Generate.percent_within(done, total);
        })
        .await?,
    )
}

/// The document, or `None` once its failure is recorded (`document.generation_failed`).
async fn generate_or_record(
    ctx: &mut Ctx,
    recording: &RecordingRef,
) -> Result<Option<DocumentRef>, StageFailure> {
    let failure = match generate(ctx, recording).await {
        Ok(document) => return Ok(Some(document)),
        Err(failure) if failure.cancelled => return Err(failure),
        Err(failure) => failure,
    };
    let record = GenerationFailure {
        recording: *recording,
        generation: None,
        kind: failure.kind,
        reason: failure.message,
    };
    ctx.execute_activity(DocumentActivities::record_failure, record, db_activity())
        .await?;
    Ok(None)
}

async fn transition(
    ctx: &mut Ctx,
    recording: &RecordingRef,
    stage: PipelineStage,
    status: StageStatus,
    message: Option<String>,
) -> Result<(), ActivityExecutionError> {
    let input = StageTransition {
        recording: *recording,
        stage,
        status,
        message,
    };
    ctx.execute_activity(BookkeepingActivities::transition, input, db_activity())
        .await
}

async fn enter(
    ctx: &mut Ctx,
    recording: &RecordingRef,
    stage: PipelineStage,
) -> Result<(), StageFailure> {
    ctx.upsert_search_attributes([PIPELINE_STAGE.value_set(stage.as_str().to_owned())]);
    ctx.state_mut(|s| {
        s.stage = stage;
        s.progress.stage = stage.as_str().to_owned();
        s.progress.percent = stage.percent();
    });
    Ok(transition(ctx, recording, stage, StageStatus::Started, None).await?)
}

async fn leave(
    ctx: &mut Ctx,
    recording: &RecordingRef,
    stage: PipelineStage,
) -> Result<(), StageFailure> {
    Ok(transition(ctx, recording, stage, StageStatus::Completed, None).await?)
}

/// Submits the job, then waits for its callback, polling on a durable timer in case it never
/// comes. Returns the number of stored segments.
async fn transcribe(ctx: &mut Ctx, recording: &RecordingRef) -> Result<u32, StageFailure> {
    let job = ctx
        .execute_activity(
            TranscriptionActivities::submit,
            SubmitTranscription {
                recording: *recording,
            },
            provider_activity(),
        )
        .await?;
    if job.synchronous {
        let collected = ctx
            .execute_activity(
                TranscriptionActivities::transcribe_chunks,
                CollectTranscript {
                    recording: *recording,
                    job_id: job.job_id.clone(),
                },
                chunked_transcription_activity(job.timeout_secs),
            )
            .await?;
        return stored_segments(collected)?.ok_or_else(|| StageFailure {
            kind: FailureKind::TranscriptionFailed,
            message: "the provider returned no transcript".to_owned(),
            cancelled: false,
        });
    }
    let interval = Duration::from_secs(job.poll_interval_secs.max(1));
    let polls = (job.timeout_secs / job.poll_interval_secs.max(1)).max(1);
    // A signal wakes the wait once; if the result is not there yet (a provider that calls
    // back before its API shows the result), later waits are timers only.
    let mut signal_used = false;
    for _ in 0..polls {
        let mut timer = ctx.timer(interval);
        if !signal_used {
            let job_id = job.job_id.clone();
            let signalled = select! {
                _ = ctx.wait_condition(move |s| s.transcriptions.contains_key(&job_id)) => true,
                _ = timer => false,
            };
            if signalled {
                timer.cancel();
                signal_used = true;
            }
        } else {
            timer.await;
        }
        let collected = ctx
            .execute_activity(
                TranscriptionActivities::collect,
                CollectTranscript {
                    recording: *recording,
                    job_id: job.job_id.clone(),
                },
                provider_activity(),
            )
            .await?;
        if let Some(segments) = stored_segments(collected)? {
            return Ok(segments);
        }
    }
    Err(StageFailure {
        kind: FailureKind::TranscriptionTimeout,
        message: format!(
            "the transcription provider did not finish within {} s",
            job.timeout_secs
        ),
        cancelled: false,
    })
}

/// The stored transcript's segment count, `None` while the provider is still working, or
/// the provider's failure.
fn stored_segments(collected: Collected) -> Result<Option<u32>, StageFailure> {
    match collected {
        Collected::Pending => Ok(None),
        Collected::Stored { segments, .. } => Ok(Some(segments)),
        Collected::Failed { kind, reason } => Err(StageFailure {
            kind,
            message: reason,
            cancelled: false,
        }),
    }
}

/// Records the failure on the recording, then fails the run with the same type. A
/// cancelled run (the recording was deleted) ends as cancelled, recording nothing.
async fn fail(
    ctx: &mut Ctx,
    recording: &RecordingRef,
    failure: StageFailure,
) -> WorkflowTermination {
    if failure.cancelled {
        return WorkflowTermination::cancelled();
    }
    let stage = ctx.state(|s| s.stage);
    if let Err(e) = transition(
        ctx,
        recording,
        stage,
        StageStatus::Failed,
        Some(failure.message.clone()),
    )
    .await
    {
        return e.into();
    }
    failure.into_termination(stage.as_str())
}
