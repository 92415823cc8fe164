//! The worker: registers every workflow and activity on one task queue and runs until told
//! to stop. `main` and the end-to-end tests both go through [`run`].

use std::future::Future;

use anyhow::Context;
use std::sync::Arc;

use mediadocs_activities::{
    Bookkeeping, Diagnostics, Recordings, Transcription,
    document::{DocumentSettings, Documents},
    embedding::Embedding,
    media::Media,
    transcription::{ChunkedTranscriptionSettings, TranscriptionTiming},
};
use mediadocs_providers::{
    embeddings::Embedder,
    llm::{ChatClient, LlmSettings},
    transcription::{self, TranscriptionSettings},
    webhook::job_token::JobTokens,
};
use mediadocs_workflows::{
    MediaPipelineWorkflow, PingWorkflow, UploadExpiryWorkflow, document::DocumentWorkflow,
};
use sqlx::PgPool;
use temporalio_client::Client;
use temporalio_sdk::{Runtime, Worker, WorkerOptions, runtime::RuntimeOptions};

/// What the worker's activities need from the outside world.
#[derive(Clone)]
pub struct Dependencies {
    pub pool: PgPool,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub transcription: TranscriptionSettings,
    /// Mints the callback tokens the API checks: the API must have the same key.
    pub tokens: JobTokens,
    pub timing: TranscriptionTiming,
    pub chunking: ChunkedTranscriptionSettings,
    pub llm: LlmSettings,
    pub documents: DocumentSettings,
    /// Loaded once (the local model is ~90 MB) and shared by every embedding activity.
    pub embedder: Arc<dyn Embedder>,
}

/// Polls `task_queue` until `shutdown` resolves, then drains in-flight tasks and returns.
///
/// The SDK's worker is not `Send`, so this future must be driven on the task that created it
/// (a `LocalSet` or a current-thread runtime), never handed to `tokio::spawn`.
pub async fn run(
    client: Client,
    task_queue: &str,
    deps: Dependencies,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let runtime = Runtime::from_current_tokio(RuntimeOptions::default())
        .context("starting the Temporal SDK runtime")?;
    let options = WorkerOptions::new(task_queue)
        .register_workflow::<PingWorkflow>()?
        .register_workflow::<MediaPipelineWorkflow>()?
        .register_workflow::<UploadExpiryWorkflow>()?
        .register_workflow::<DocumentWorkflow>()?
        .register_activities(Diagnostics {
            pool: deps.pool.clone(),
        })
        .register_activities(Recordings {
            pool: deps.pool.clone(),
            s3: deps.s3.clone(),
            bucket: deps.bucket.clone(),
        })
        .register_activities(Bookkeeping {
            pool: deps.pool.clone(),
        })
        .register_activities(Media {
            pool: deps.pool.clone(),
            s3: deps.s3.clone(),
            bucket: deps.bucket.clone(),
        })
        .register_activities(Documents {
            pool: deps.pool.clone(),
            llm: ChatClient::new(&deps.llm).context("building the LLM client")?,
            settings: deps.documents,
        })
        .register_activities(Embedding {
            pool: deps.pool.clone(),
            embedder: deps.embedder,
        })
        .register_activities(Transcription {
            pool: deps.pool.clone(),
            s3: deps.s3.clone(),
            bucket: deps.bucket.clone(),
            transcriber: transcription::async_transcriber(&deps.transcription),
            whisper: transcription::sync_transcriber(&deps.transcription),
            chunking: deps.chunking,
            settings: deps.transcription,
            tokens: deps.tokens,
            timing: deps.timing,
        });
    // The benchmarks' bare-Temporal baseline; a production build does not carry it.
    #[cfg(feature = "bench")]
    let options = options
        .register_workflow::<mediadocs_workflows::NoopWorkflow>()?
        .register_activities(mediadocs_activities::Noop);
    let options = options.build();
    let mut worker = Worker::new(&runtime, client, options).context("creating the worker")?;
    let stop = worker.shutdown_handle();
    let (result, ()) = tokio::join!(worker.run(), async {
        shutdown.await;
        tracing::info!("shutting down the worker: finishing in-flight tasks");
        stop();
    });
    result.context("worker stopped with an error")
}
