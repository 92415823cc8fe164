//! The embed stage: a recording's transcript, cut into passages ([`passages`]), embedded in
//! batches and stored in pgvector ([`store`]).
//!
//! Idempotent by (recording, model, passage index): each batch is upserted in its own
//! transaction, then the passages beyond the new count are deleted, so any number of runs
//! leaves exactly the current transcript's passages. Progress is heartbeated per batch, and a
//! retried attempt skips the batches its predecessor stored.

pub mod passages;
pub mod store;

use std::{future::Future, sync::Arc};

use mediadocs_providers::embeddings::{Embedder, EmbeddingError};
use mediadocs_store::tenancy;
use mediadocs_workflows::{
    FailureKind,
    embedding::{EmbedTranscriptDef, Embedded},
    recording::RecordingRef,
};
use sqlx::PgPool;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

use crate::failure::fail;
use passages::Sizing;
use store::Owner;

/// Passages per embedding call, transaction and heartbeat.
pub const BATCH_SIZE: usize = 16;

pub struct Embedding {
    pub pool: PgPool,
    pub embedder: Arc<dyn Embedder>,
}

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("recording {0} or its transcript is gone")]
    RecordingGone(Uuid),
    #[error(transparent)]
    Embedding(#[from] EmbeddingError),
    /// Cancellation was noticed; nothing was written after it.
    #[error("cancelled")]
    Cancelled,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl EmbedError {
    /// Retryable unless retrying cannot help; permanent failures carry a stable type name.
    pub fn into_activity_error(self) -> ActivityError {
        let kind = match &self {
            Self::Cancelled => return ActivityError::cancelled(),
            Self::Database(_) => return anyhow::Error::new(self).into(),
            Self::Embedding(e) if e.is_retryable() => return anyhow::Error::new(self).into(),
            Self::RecordingGone(_) => FailureKind::RecordingGone,
            Self::Embedding(EmbeddingError::Rejected(_)) => FailureKind::EmbeddingRejected,
            Self::Embedding(EmbeddingError::Malformed(_)) => {
                FailureKind::MalformedEmbeddingResponse
            }
            Self::Embedding(_) => FailureKind::EmbeddingModelFailed,
        };
        fail(kind, self)
    }
}

/// How a run reports progress and learns of cancellation: the activity context under
/// Temporal, anything else in tests.
pub trait Progress: Send + Sync {
    /// Batches an earlier attempt stored: this run starts after them.
    fn resume_from(&self) -> u32 {
        0
    }
    fn is_cancelled(&self) -> bool {
        false
    }
    /// Called once batch `batches_done` (counting from 1) is committed.
    fn batch_done(&self, batches_done: u32) -> impl Future<Output = ()> + Send;
}

/// For runs nobody watches.
pub struct NoProgress;

impl Progress for NoProgress {
    async fn batch_done(&self, _: u32) {}
}

struct Heartbeats<'a>(&'a ActivityContext);

impl Progress for Heartbeats<'_> {
    fn resume_from(&self) -> u32 {
        // Details that do not parse (another version's) mean starting over, which is safe.
        self.0
            .heartbeat_details()
            .deserialize::<u32>()
            .ok()
            .flatten()
            .unwrap_or(0)
    }

    fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }

    async fn batch_done(&self, batches_done: u32) {
        if let Err(e) = self.0.record_heartbeat(batches_done).await {
            tracing::warn!(error = %e, "recording the embed heartbeat");
        }
    }
}

#[activities]
impl Embedding {
    #[activity(definition = EmbedTranscriptDef)]
    pub async fn embed_transcript(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: RecordingRef,
    ) -> Result<Embedded, ActivityError> {
        let (org, recording) = (input.org_id, input.recording_id);
        let progress = Heartbeats(&ctx);
        let embedded = embed_transcript(
            &self.pool,
            self.embedder.as_ref(),
            org,
            recording,
            BATCH_SIZE,
            &progress,
        )
        .await
        .map_err(EmbedError::into_activity_error)?;
        tracing::info!(passages = embedded.passages, model = %embedded.model, "transcript embedded");
        Ok(embedded)
    }
}

/// The activity without Temporal: embeds `recording`'s transcript with `embedder`, `batch`
/// passages at a time, and stores the passages (see the module comment).
#[tracing::instrument(skip_all, fields(recording_id = %recording))]
pub async fn embed_transcript(
    pool: &PgPool,
    embedder: &dyn Embedder,
    org: Uuid,
    recording: Uuid,
    batch: usize,
    progress: &impl Progress,
) -> Result<Embedded, EmbedError> {
    let mut tx = tenancy::begin(pool, Some(org), None).await?;
    let segments = store::transcript(&mut tx, recording)
        .await?
        .ok_or(EmbedError::RecordingGone(recording))?;
    tx.commit().await?;
    let passages = passages::split(&segments, Sizing::default());
    let owner = Owner {
        org,
        recording,
        model: embedder.model(),
    };
    let resume = progress.resume_from() as usize;
    for (done, chunk) in passages.chunks(batch.max(1)).enumerate().skip(resume) {
        if progress.is_cancelled() {
            return Err(EmbedError::Cancelled);
        }
        let texts: Vec<String> = chunk.iter().map(|p| p.text.clone()).collect();
        let vectors = embedder.embed(&texts).await?;
        check_shape(&vectors, chunk.len(), embedder.dimension())?;
        if progress.is_cancelled() {
            return Err(EmbedError::Cancelled);
        }
        let mut tx = tenancy::begin(pool, Some(org), None).await?;
        store::upsert(&mut tx, owner, chunk, vectors).await?;
        tx.commit().await?;
        progress.batch_done(done as u32 + 1).await;
    }
    if progress.is_cancelled() {
        return Err(EmbedError::Cancelled);
    }
    let mut tx = tenancy::begin(pool, Some(org), None).await?;
    let strays = store::delete_beyond(&mut tx, owner, passages.len()).await?;
    tx.commit().await?;
    if strays > 0 {
        tracing::info!(%recording, strays, "deleted passages of an earlier transcript");
    }
    Ok(Embedded {
        passages: passages.len() as u32,
        model: owner.model.to_owned(),
        dimension: embedder.dimension() as u32,
    })
}

fn check_shape(vectors: &[Vec<f32>], texts: usize, dimension: usize) -> Result<(), EmbeddingError> {
    if vectors.len() != texts {
        return Err(EmbeddingError::Malformed(format!(
            "{} vectors for {texts} texts",
            vectors.len()
        )));
    }
    match vectors.iter().find(|v| v.len() != dimension) {
        Some(v) => Err(EmbeddingError::Malformed(format!(
            "a vector of {} dimensions, not {dimension}",
            v.len()
        ))),
        None => Ok(()),
    }
}
