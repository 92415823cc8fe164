//! The document stage: a recording's transcript becomes a Markdown document through an LLM,
//! map-reduce style (see `mediadocs_workflows::document` for the orchestration).
//!
//! - [`chunking`]: the transcript cut into token-bounded chunks along segment boundaries;
//! - [`prompts`]: the three prompts, with the transcript fenced off as untrusted data;
//! - [`validate`]: every answer sanitised, the document checked before it is stored;
//! - [`stage`]: the steps as plain functions; the activities below only wrap them.
//!
//! Idempotency: summaries by (recording, level, idx) and reused while their input is
//! unchanged; the document by (recording, version 1), a regenerated version by its run.

pub mod chunking;
mod error;
pub mod prompts;
pub mod stage;
mod store;
pub mod validate;

use std::sync::Arc;

use crate::heartbeat::while_heartbeating;

use mediadocs_providers::llm::ChatClient;
use mediadocs_workflows::{
    document::{
        ChunkRef, ChunkSummary, DocumentPlan, DocumentRef, GenerationFailure, PlanDef,
        RecordFailureDef, ReduceDef, ReduceRef, SummarizeChunkDef, WriteDef, WriteRef,
    },
    recording::RecordingRef,
};
use sqlx::PgPool;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

pub use error::DocumentError;
pub use stage::{plan, reduce, summarize_chunk, write};

pub use mediadocs_settings::documents::DocumentSettings;

/// The document activities, registered on the worker.
#[derive(Clone)]
pub struct Documents {
    pub pool: PgPool,
    pub llm: ChatClient,
    pub settings: DocumentSettings,
}

#[activities]
impl Documents {
    #[activity(definition = PlanDef)]
    #[tracing::instrument(skip_all, fields(recording_id = %recording.recording_id))]
    pub async fn plan(
        self: Arc<Self>,
        _ctx: ActivityContext,
        recording: RecordingRef,
    ) -> Result<DocumentPlan, ActivityError> {
        stage::plan(&self, &recording)
            .await
            .map_err(DocumentError::into_activity_error)
    }

    #[activity(definition = SummarizeChunkDef)]
    #[tracing::instrument(skip_all, fields(recording_id = %chunk.recording.recording_id, idx = chunk.idx))]
    pub async fn summarize_chunk(
        self: Arc<Self>,
        ctx: ActivityContext,
        chunk: ChunkRef,
    ) -> Result<ChunkSummary, ActivityError> {
        // The step is idempotent: its result is keyed by recording, level and index.
        while_heartbeating(&ctx, || (), async {
            stage::summarize_chunk(&self, &chunk)
                .await
                .map_err(DocumentError::into_activity_error)
        })
        .await
    }

    #[activity(definition = ReduceDef)]
    #[tracing::instrument(skip_all, fields(recording_id = %r.recording.recording_id, level = r.level, idx = r.idx))]
    pub async fn reduce(
        self: Arc<Self>,
        ctx: ActivityContext,
        r: ReduceRef,
    ) -> Result<ChunkSummary, ActivityError> {
        while_heartbeating(&ctx, || (), async {
            stage::reduce(&self, &r)
                .await
                .map_err(DocumentError::into_activity_error)
        })
        .await
    }

    #[activity(definition = WriteDef)]
    #[tracing::instrument(skip_all, fields(recording_id = %w.recording.recording_id))]
    pub async fn write(
        self: Arc<Self>,
        ctx: ActivityContext,
        w: WriteRef,
    ) -> Result<DocumentRef, ActivityError> {
        while_heartbeating(&ctx, || (), async {
            stage::write(&self, &w)
                .await
                .map_err(DocumentError::into_activity_error)
        })
        .await
    }

    #[activity(definition = RecordFailureDef)]
    #[tracing::instrument(skip_all, fields(recording_id = %f.recording.recording_id))]
    pub async fn record_failure(
        self: Arc<Self>,
        _ctx: ActivityContext,
        f: GenerationFailure,
    ) -> Result<(), ActivityError> {
        stage::record_failure(&self, &f)
            .await
            .map_err(DocumentError::into_activity_error)
    }
}
