//! `mediadocs-worker`: connects, migrates, registers the workflows and activities, and runs
//! until SIGTERM or Ctrl-C.

use mediadocs_providers::webhook::job_token::JobTokens;
use mediadocs_settings::{or_exit, telemetry, worker::WorkerSettings};
use mediadocs_store::connect;

/// The local embedder allocates tens of MB per layer for a batch of passages; glibc returns
/// blocks that large to the kernel on free and page-faults them in again on the next layer
/// (a third of the embedder's time went to the kernel). mimalloc keeps them: 8.1 to 9.9
/// passages/s, for about 20 MB more idle RSS. The API embeds one short question at a time,
/// in buffers far smaller, so it keeps the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = or_exit(WorkerSettings::from_env);
    telemetry::init(settings.log_format);

    let embedder = mediadocs_providers::embeddings::from_settings(&settings.embeddings)?;
    tracing::info!(
        model = embedder.model(),
        dimension = embedder.dimension(),
        "embedder ready"
    );
    connect::migrate(&settings.database).await?;
    let pool = connect::postgres(&settings.database)?;
    let client = connect::temporal(&settings.temporal, "mediadocs-worker").await?;
    let temporal = &settings.temporal;
    tracing::info!(task_queue = %temporal.task_queue, namespace = %temporal.namespace, "worker started");
    mediadocs_worker::run(
        client,
        &temporal.task_queue,
        mediadocs_worker::Dependencies {
            pool,
            s3: connect::s3(&settings.s3),
            bucket: settings.s3.bucket.clone(),
            transcription: settings.transcription.clone(),
            tokens: JobTokens::from_key(&settings.token_key),
            timing: settings.timing,
            chunking: settings.chunking,
            llm: settings.llm.clone(),
            documents: settings.documents,
            embedder,
        },
        mediadocs_settings::shutdown::signal(),
    )
    .await
}
