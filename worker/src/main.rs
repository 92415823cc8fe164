//! `mediadocs-worker`: connects, migrates, registers the workflows and activities, and runs
//! until SIGTERM or Ctrl-C.

use mediadocs_activities::{
    document::DocumentSettings,
    transcription::{ChunkedTranscriptionSettings, TranscriptionTiming},
};
use mediadocs_config::{DatabaseSettings, S3Settings, TemporalSettings, connect, env, telemetry};
use mediadocs_providers::{
    embeddings::EmbeddingSettings, llm::LlmSettings, transcription::TranscriptionSettings,
    webhook::job_token::JobTokens,
};

/// The local embedder allocates tens of MB per layer for a batch of passages; glibc returns
/// blocks that large to the kernel on free and page-faults them in again on the next layer
/// (a third of the embedder's time went to the kernel). mimalloc keeps them: 8.1 to 9.9
/// passages/s, for about 20 MB more idle RSS. The API embeds one short question at a time,
/// in buffers far smaller, so it keeps the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let log_format = env::or_exit(|| env::var_or("LOG_FORMAT", "text", "`text` or `json`"));
    let database = env::or_exit(DatabaseSettings::from_env);
    let temporal = env::or_exit(TemporalSettings::from_env);
    let s3 = env::or_exit(S3Settings::from_env);
    let transcription = env::or_exit(TranscriptionSettings::from_env);
    let tokens = env::or_exit(JobTokens::from_env);
    let timing = env::or_exit(TranscriptionTiming::from_env);
    let chunking = env::or_exit(ChunkedTranscriptionSettings::from_env);
    let llm = env::or_exit(LlmSettings::from_env);
    let documents = env::or_exit(DocumentSettings::from_env);
    let embeddings = env::or_exit(EmbeddingSettings::from_env);
    telemetry::init(log_format);

    let embedder = mediadocs_providers::embeddings::from_settings(&embeddings)?;
    tracing::info!(
        model = embedder.model(),
        dimension = embedder.dimension(),
        "embedder ready"
    );
    connect::migrate(&database).await?;
    let pool = connect::postgres(&database)?;
    let client = connect::temporal(&temporal, "mediadocs-worker").await?;
    tracing::info!(task_queue = %temporal.task_queue, namespace = %temporal.namespace, "worker started");
    mediadocs_worker::run(
        client,
        &temporal.task_queue,
        mediadocs_worker::Dependencies {
            pool,
            s3: connect::s3(&s3),
            bucket: s3.bucket.clone(),
            transcription,
            tokens,
            timing,
            chunking,
            llm,
            documents,
            embedder,
        },
        mediadocs_config::shutdown::signal(),
    )
    .await
}
