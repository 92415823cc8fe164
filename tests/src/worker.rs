//! The worker, run in-process on a thread of its own.
//!
//! The SDK's worker future is not `Send`, so it gets a current-thread runtime on a dedicated
//! thread, with its own Temporal client and pool built there.

use std::{thread::JoinHandle, time::Duration};

use mediadocs_activities::{
    document::DocumentSettings,
    transcription::{ChunkedTranscriptionSettings, TranscriptionTiming},
};
use mediadocs_providers::{
    embeddings::{EmbeddingSettings, local::LocalEmbedderSettings},
    llm::LlmSettings,
    transcription::{Provider, TranscriptionSettings},
};

use mediadocs_settings::{DatabaseSettings, S3Settings, TemporalSettings};
use mediadocs_store::connect;
use tokio::sync::oneshot;

use crate::TestContext;

pub struct TestWorker {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

/// How the test worker transcribes: the provider (usually a simulator) and the timings.
#[derive(Clone)]
pub struct WorkerProviders {
    pub transcription: TranscriptionSettings,
    pub timing: TranscriptionTiming,
    pub chunking: ChunkedTranscriptionSettings,
    pub llm: LlmSettings,
    pub documents: DocumentSettings,
    pub embeddings: EmbeddingSettings,
}

impl WorkerProviders {
    /// A self-hosted transcriber at `base_url`, called back at the API at `webhook_url`,
    /// polled every `poll` until `give_up`.
    pub fn selfhosted(
        base_url: &str,
        webhook_url: &str,
        poll: Duration,
        give_up: Duration,
    ) -> Self {
        Self {
            transcription: TranscriptionSettings {
                provider: Provider::SelfHosted,
                base_url: base_url.parse().expect("a valid simulator URL"),
                api_key: None,
                model: "whisper-1".into(),
                timeout: Duration::from_secs(10),
                webhook_public_url: webhook_url.parse().expect("a valid API URL"),
            },
            timing: TranscriptionTiming {
                poll_interval: poll,
                give_up_after: give_up,
                audio_url_ttl: Duration::from_secs(900),
            },
            chunking: ChunkedTranscriptionSettings::default(),
            // Unreachable until a test points it at a simulator with `with_llm`.
            llm: LlmSettings::for_base_url(
                "http://127.0.0.1:9/v1".parse().expect("a URL"),
                "unused",
            ),
            documents: DocumentSettings::default(),
            embeddings: local_embeddings(),
        }
    }

    /// Whisper at `base_url` (an OpenAI simulator's), called with chunks of at most
    /// `chunk_secs` seconds, `concurrency` at a time.
    pub fn with_whisper(mut self, base_url: &str, chunk_secs: u64, concurrency: usize) -> Self {
        self.transcription.provider = Provider::Whisper;
        self.transcription.base_url = base_url.parse().expect("a valid simulator URL");
        self.chunking.limits.max_secs = chunk_secs;
        self.chunking.concurrency = concurrency;
        self
    }

    /// LLM calls go to `base_url` (an OpenAI simulator's), with short timeouts.
    pub fn with_llm(mut self, base_url: &str) -> Self {
        self.llm =
            LlmSettings::for_base_url(base_url.parse().expect("a valid LLM URL"), "simulated-chat");
        self.llm.timeout = Duration::from_secs(20);
        self
    }
}

/// The real local embedder, from the model `scripts/lib/tools.sh` installs.
pub fn local_embeddings() -> EmbeddingSettings {
    EmbeddingSettings::Local(LocalEmbedderSettings {
        dir: crate::tools::repo_root().join(".tools/models/all-MiniLM-L6-v2"),
        batch_size: 16,
        max_tokens: 256,
    })
}

impl TestWorker {
    /// A worker whose transcription provider is unreachable: for tests that stop before
    /// transcription.
    pub fn spawn(ctx: &TestContext) -> Self {
        let providers = WorkerProviders::selfhosted(
            "http://127.0.0.1:9",
            "http://127.0.0.1:9",
            Duration::from_secs(300),
            Duration::from_secs(3600),
        );
        Self::spawn_with(ctx, providers)
    }

    pub fn spawn_with(ctx: &TestContext, providers: WorkerProviders) -> Self {
        Self::spawn_raw(
            ctx.temporal_settings(),
            ctx.database_settings(),
            ctx.s3_settings(),
            providers,
        )
    }

    fn spawn_raw(
        temporal: TemporalSettings,
        database: DatabaseSettings,
        s3: S3Settings,
        providers: WorkerProviders,
    ) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("test-worker".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async move {
                    let client = connect::temporal(&temporal, "mediadocs-test-worker").await?;
                    let pool = connect::postgres(&database)?;
                    mediadocs_worker::run(
                        client,
                        &temporal.task_queue,
                        mediadocs_worker::Dependencies {
                            pool,
                            s3: connect::s3(&s3),
                            bucket: s3.bucket.clone(),
                            transcription: providers.transcription,
                            tokens: crate::context::test_job_tokens(),
                            timing: providers.timing,
                            chunking: providers.chunking,
                            llm: providers.llm,
                            documents: providers.documents,
                            embedder: mediadocs_providers::embeddings::from_settings(
                                &providers.embeddings,
                            )?,
                        },
                        async {
                            let _ = stopped.await;
                        },
                    )
                    .await
                })
            })
            .expect("starting the worker thread");
        Self {
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops the worker gracefully and returns how its run ended.
    pub fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| anyhow::anyhow!("the worker thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}
