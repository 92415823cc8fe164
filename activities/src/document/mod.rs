//! The document stage: a recording's transcript becomes a Markdown document through an LLM,
//! map-reduce style (see `mediadocs_workflows::document` for the orchestration).
//!
//! - [`chunking`]: the transcript cut into token-bounded chunks along segment boundaries;
//! - [`prompts`]: the three prompts, with the transcript fenced off as untrusted data;
//! - [`validate`]: every answer sanitised, the document checked before it is stored;
//! - [`stage`]: the steps as plain functions; the activities below only wrap them.
//!
//! Idempotency: summaries by (recording, level, idx) and reused while their input is
//! unchanged; the document by (recording, version 1).

pub mod chunking;
mod error;
pub mod prompts;
pub mod stage;
mod store;
pub mod validate;

use std::sync::Arc;

use crate::heartbeat::while_heartbeating;

use mediadocs_config::{ConfigError, env::var_or};
use mediadocs_providers::llm::ChatClient;
use mediadocs_workflows::{
    document::{
        ChunkRef, ChunkSummary, DocumentPlan, DocumentRef, PlanDef, ReduceDef, ReduceRef,
        SummarizeChunkDef, WriteDef, WriteRef,
    },
    recording::RecordingRef,
};
use sqlx::PgPool;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

pub use error::DocumentError;
pub use stage::{plan, reduce, summarize_chunk, write};

/// Tokens reserved in every prompt for the instructions and the framing around the data.
const PROMPT_OVERHEAD: u32 = 1000;

/// `DOCUMENT_CHUNK_TOKENS` (3000), `DOCUMENT_SUMMARY_MAX_TOKENS` (800) and
/// `DOCUMENT_MAX_TOKENS` (4000); the model's window is `LLM_CONTEXT_TOKENS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentSettings {
    /// The most transcript tokens in one map prompt (less if the model's window is smaller).
    pub chunk_tokens: u32,
    /// The longest answer of a summarise or reduce call.
    pub summary_max_tokens: u32,
    /// The longest answer of the final pass.
    pub document_max_tokens: u32,
}

impl Default for DocumentSettings {
    fn default() -> Self {
        Self {
            chunk_tokens: 3000,
            summary_max_tokens: 800,
            document_max_tokens: 4000,
        }
    }
}

impl DocumentSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            chunk_tokens: var_or("DOCUMENT_CHUNK_TOKENS", "3000", "a number of tokens")?,
            summary_max_tokens: var_or("DOCUMENT_SUMMARY_MAX_TOKENS", "800", "a number of tokens")?,
            document_max_tokens: var_or("DOCUMENT_MAX_TOKENS", "4000", "a number of tokens")?,
        })
    }

    /// Transcript tokens per chunk for a model with `context` tokens.
    pub fn chunk_tokens_for(&self, context: u32) -> u32 {
        let room = context.saturating_sub(self.summary_max_tokens + PROMPT_OVERHEAD);
        self.chunk_tokens.min(room).max(100)
    }

    /// Summary tokens one reduce or write prompt may carry. Never under two summaries'
    /// worth, so every reduce level at least halves the count.
    pub fn reduce_budget_for(&self, context: u32) -> u32 {
        let room = context.saturating_sub(self.document_max_tokens + PROMPT_OVERHEAD);
        room.max(self.summary_max_tokens * 2)
    }
}

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
}
