//! The media pipeline's benchmarks, against the harness's real Temporal (in memory),
//! PostgreSQL and S3, with the provider simulators:
//!
//! 1. **Orchestration overhead.** Zero-latency simulators (transcription with a signed
//!    callback, LLM, OpenAI-compatible embeddings). Median end-to-end latency of one
//!    recording (upload completed → workflow result), and throughput with many recordings
//!    completed at once, each against a bare workflow running the same number of no-op
//!    activities, measured in the same run. Target: at most 1.5×.
//! 2. **Map-reduce speedup.** A transcript of several hours generated from timed text, the
//!    document stage alone (`DocumentWorkflow`, fan-out 4) with every LLM call taking a fixed
//!    latency. Wall time against the ideal: ceil(chunks / fan-out) × latency for the map,
//!    plus the same for each reduce level, plus the final write. Target: at most 1.25×.
//! 3. **Verify.** A worker process verifying a small recording and a 2 GiB one: its peak
//!    RSS and the bytes the probe read. Target: under 150 MB, bytes independent of size.
//! 4. **Whisper.** A worker process transcribing long recordings through the Whisper
//!    simulator (decode, resample, chunk, send): its peak RSS, which should not grow with
//!    the recording's length, and the wall time.
//!
//!     cargo bench -p mediadocs-tests --bench pipeline
//!
//! Knobs: BENCH_PARTS (overhead,mapreduce,verify,whisper), BENCH_RUNS (10 sequential recordings),
//! BENCH_CONCURRENT (100), BENCH_LLM_LATENCY_MS (200), BENCH_HOURS (3), BENCH_FAN_OUT (4),
//! BENCH_VERIFY_MIB (2048), BENCH_WHISPER_MINUTES (10,60).

use std::{
    num::NonZeroUsize,
    time::{Duration, Instant},
};

use futures::future::join_all;
use mediadocs_dev::{
    openai::OpenAiSimulator,
    transcription::{Options, TranscriptionSimulator},
};
use mediadocs_providers::{
    embeddings::{EmbeddingSettings, openai::OpenAiEmbedderSettings},
    transcription::{Segment, Transcript},
    webhook::standard::Secret,
};
use mediadocs_tests::{
    TestApp, TestContext, TestWorker, WorkerProviders, app::Account,
    context::TEST_SELFHOSTED_SECRETS, fixtures, histories, media, staged_upload::StagedUpload,
    stats::percentile, tools, wait, worker_process::WorkerProcess,
};
use mediadocs_workflows::{
    MediaPipelineWorkflow, NoopWorkflow,
    document::{DocumentWorkflow, GenerateDocument},
    recording::RecordingRef,
};
use serde_json::Value;
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use uuid::Uuid;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut v: Vec<Duration>) -> Duration {
    percentile(&mut v, 50.0)
}

/// An API instance that lets one org have many uploads in flight.
async fn api(ctx: &TestContext) -> TestApp {
    let mut settings = ctx.api_settings();
    settings.uploads.max_concurrent_per_org = 100_000;
    TestApp::spawn_with(ctx, settings, ctx.pool.clone()).await
}

fn sidecar() -> Transcript {
    let line = |i: i64, text: &str| Segment {
        start_ms: i * 4_000,
        end_ms: i * 4_000 + 3_500,
        text: text.into(),
        speaker: Some(if i % 2 == 0 { "A" } else { "B" }.into()),
        confidence: Some(0.9),
    };
    Transcript {
        language: Some("en".into()),
        duration_ms: Some(12_000),
        segments: vec![
            line(0, "Welcome to the weekly sync."),
            line(1, "The migration to Postgres 18 is done."),
            line(2, "Great, let's ship it on Friday."),
        ],
    }
}

struct Overhead {
    ctx: TestContext,
    app: TestApp,
    sim: TranscriptionSimulator,
    owner: Account,
    _llm: OpenAiSimulator,
    _worker: TestWorker,
    next: usize,
}

impl Overhead {
    async fn start() -> Self {
        let ctx = TestContext::new().await;
        let app = api(&ctx).await;
        let sim = TranscriptionSimulator::start(
            "127.0.0.1:0",
            Options {
                signing_secret: Some(Secret::parse(TEST_SELFHOSTED_SECRETS[0]).unwrap()),
                ..Options::default()
            },
        )
        .await
        .unwrap();
        let llm = OpenAiSimulator::start().await;
        let mut providers = WorkerProviders::selfhosted(
            &sim.base_url(),
            &app.base_url,
            Duration::from_secs(600),
            Duration::from_secs(600),
        )
        .with_llm(&llm.base_url());
        // The simulator's embeddings: zero latency, like every other provider here.
        providers.embeddings = EmbeddingSettings::OpenAi(OpenAiEmbedderSettings {
            base_url: llm.base_url().parse().unwrap(),
            api_key: None,
            model: "text-embedding-3-small".into(),
            dimension: 384,
            batch_size: NonZeroUsize::new(128).unwrap(),
            timeout: Duration::from_secs(10),
        });
        let worker = TestWorker::spawn_with(&ctx, providers);
        let owner = app.register("bench@example.com").await;
        Self {
            ctx,
            app,
            sim,
            owner,
            _llm: llm,
            _worker: worker,
            next: 0,
        }
    }

    /// A recording whose bytes are in S3, its transcript known to the simulator.
    async fn staged(&mut self) -> StagedUpload {
        self.next += 1;
        let bytes = media::tagged_wav(12, &format!("bench-{}", self.next));
        self.sim.register(&bytes, sidecar());
        self.app
            .stage_upload(
                &self.owner,
                "bench.wav",
                "audio/wav",
                bytes.len() as u64,
                |o, n| bytes[o as usize..o as usize + n].to_vec(),
            )
            .await
    }

    /// Completes the upload and waits for the pipeline's result.
    async fn run(&self, staged: &StagedUpload) -> Duration {
        let started = Instant::now();
        self.app.complete_staged(&self.owner, staged).await;
        self.ctx
            .temporal
            .get_workflow_handle::<MediaPipelineWorkflow>(
                mediadocs_workflows::names::pipeline_workflow_id(&staged.id),
            )
            .get_result(WorkflowGetResultOptions::default())
            .await
            .expect("the pipeline succeeds");
        started.elapsed()
    }

    async fn noop(&self, id: String, activities: u32) -> Duration {
        let started = Instant::now();
        let handle = self
            .ctx
            .temporal
            .start_workflow(
                NoopWorkflow::run,
                activities,
                WorkflowStartOptions::new(self.ctx.task_queue.clone(), id).build(),
            )
            .await
            .expect("starting the baseline");
        handle
            .get_result(WorkflowGetResultOptions::default())
            .await
            .expect("the baseline's result");
        started.elapsed()
    }

    /// Activities one pipeline run scheduled, from its history.
    async fn activities(&self, id: &str) -> u32 {
        histories::events(
            &self.ctx.temporal,
            &mediadocs_workflows::names::pipeline_workflow_id(id),
        )
        .await
        .iter()
        .filter(|e| e.kind == "ActivityTaskScheduledEventAttributes")
        .count() as u32
    }
}

async fn overhead() {
    let runs = knob("BENCH_RUNS", 10);
    let concurrent = knob("BENCH_CONCURRENT", 100);
    let mut b = Overhead::start().await;
    // Warm-up: connections, caches, the worker's first tasks.
    for _ in 0..2 {
        let s = b.staged().await;
        b.run(&s).await;
    }
    let warm = b.staged().await;
    b.run(&warm).await;
    let activities = b.activities(&warm.id).await;
    for i in 0..3 {
        b.noop(format!("noop-warm-{i}"), activities).await;
    }

    let mut pipeline = Vec::new();
    for _ in 0..runs {
        let s = b.staged().await;
        pipeline.push(b.run(&s).await);
    }
    let mut baseline = Vec::new();
    for i in 0..runs {
        baseline.push(b.noop(format!("noop-seq-{i}"), activities).await);
    }
    let (p, base) = (median(pipeline), median(baseline));

    let mut staged = Vec::new();
    for _ in 0..concurrent {
        staged.push(b.staged().await);
    }
    let started = Instant::now();
    join_all(staged.iter().map(|s| b.run(s))).await;
    let pipeline_rate = concurrent as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    join_all((0..concurrent).map(|i| b.noop(format!("noop-par-{i}"), activities))).await;
    let baseline_rate = concurrent as f64 / started.elapsed().as_secs_f64();

    println!(
        "\n1. orchestration overhead: one pipeline run schedules {activities} activities; the \
         baseline is NoopWorkflow with {activities} no-op activities in sequence"
    );
    println!(
        "  latency, median of {runs} sequential: pipeline {:.0} ms, baseline {:.0} ms, ratio {:.2}x (target <= 1.5x)",
        ms(p),
        ms(base),
        p.as_secs_f64() / base.as_secs_f64()
    );
    println!(
        "  throughput, {concurrent} at once:      pipeline {pipeline_rate:.2}/s, baseline {baseline_rate:.2}/s, ratio {:.2}x (target <= 1.5x)",
        baseline_rate / pipeline_rate
    );
}

/// `hours` of meeting talk: a segment every 6 s, each a sentence of its own.
fn long_transcript(hours: usize) -> Transcript {
    const TOPICS: [&str; 8] = [
        "the upload service",
        "the transcription backlog",
        "the billing migration",
        "on-call handover",
        "the search relevance work",
        "the mobile release",
        "customer escalations",
        "the database upgrade",
    ];
    let segments = (0..hours * 600)
        .map(|i| {
            let topic = TOPICS[(i / 40) % TOPICS.len()];
            Segment {
                start_ms: i as i64 * 6_000,
                end_ms: i as i64 * 6_000 + 5_500,
                text: format!(
                    "On {topic}, item {i}: we reviewed the numbers from last week, agreed that \
                     ticket OPS-{} needs an owner, and decided to check again on Thursday.",
                    1000 + i
                ),
                speaker: Some(["Alex", "Dana", "Sam"][i % 3].into()),
                confidence: None,
            }
        })
        .collect();
    Transcript {
        language: Some("en".into()),
        duration_ms: Some(hours as i64 * 3_600_000),
        segments,
    }
}

async fn map_reduce() {
    let latency = knob("BENCH_LLM_LATENCY_MS", 200) as u64;
    let hours = knob("BENCH_HOURS", 3);
    let fan_out = knob("BENCH_FAN_OUT", 4);
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let llm = OpenAiSimulator::start().await;
    llm.set(|k| k.base_latency_ms = latency);
    let providers = WorkerProviders::selfhosted(
        "http://127.0.0.1:9",
        &app.base_url,
        Duration::from_secs(600),
        Duration::from_secs(600),
    )
    .with_llm(&llm.base_url());
    let _worker = TestWorker::spawn_with(&ctx, providers);
    let org = app.register("mapreduce@example.com").await.org_id();
    let transcript = long_transcript(hours);

    let mut rows = Vec::new();
    for run in 0..3 {
        let recording =
            fixtures::recording_with_transcript(&ctx.owner_pool, org, "generating", &transcript)
                .await;
        let input = GenerateDocument {
            recording: RecordingRef {
                org_id: org,
                recording_id: recording,
            },
            fan_out: fan_out as u32,
            generation: None,
        };
        let started = Instant::now();
        ctx.temporal
            .start_workflow(
                DocumentWorkflow::run,
                input,
                WorkflowStartOptions::new(ctx.task_queue.clone(), format!("document-{recording}"))
                    .build(),
            )
            .await
            .unwrap()
            .get_result(WorkflowGetResultOptions::default())
            .await
            .expect("the document is written");
        let wall = started.elapsed();
        // Calls per level: level 0 is the map, the others the reduce passes.
        let levels: Vec<(i32, i64)> = sqlx::query_as(
            "SELECT level, count(*) FROM document_summaries WHERE recording_id = $1
             GROUP BY level ORDER BY level",
        )
        .bind(recording)
        .fetch_all(&ctx.owner_pool)
        .await
        .unwrap();
        let rounds: u64 = levels
            .iter()
            .map(|&(_, n)| (n as u64).div_ceil(fan_out as u64))
            .sum::<u64>()
            + 1; // the final write
        let ideal = Duration::from_millis(rounds * latency);
        eprintln!(
            "  run {run}: {} calls by level {levels:?}, wall {:.0} ms, ideal {:.0} ms",
            levels.iter().map(|l| l.1).sum::<i64>() + 1,
            ms(wall),
            ms(ideal)
        );
        rows.push((levels, wall, ideal));
    }
    let (levels, _, ideal) = &rows[0];
    let wall = median(rows.iter().map(|r| r.1).collect());
    println!(
        "\n2. map-reduce: {hours} h transcript ({} segments), {} map chunks, reduce levels {:?}, \
         fan-out {fan_out}, {latency} ms per LLM call",
        transcript.segments.len(),
        levels[0].1,
        &levels[1..]
    );
    println!(
        "  wall time, median of 3: {:.0} ms; ideal {:.0} ms; ratio {:.2}x (target <= 1.25x); \
         sequential calls would take {:.0} ms",
        ms(wall),
        ms(*ideal),
        wall.as_secs_f64() / ideal.as_secs_f64(),
        (levels.iter().map(|l| l.1).sum::<i64>() + 1) as f64 * latency as f64
    );
}

async fn verify() {
    let big = knob("BENCH_VERIFY_MIB", 2048) as u64 * 1024 * 1024;
    let ctx = TestContext::new().await;
    let app = api(&ctx).await;
    let llm = OpenAiSimulator::start().await;
    let owner = app.register("verify@example.com").await;
    let scratch = tools::scratch_dir("bench-verify");
    let binary = if cfg!(debug_assertions) {
        tools::workspace_binary("mediadocs-worker")
    } else {
        tools::release_binary("mediadocs-worker")
    };
    let llm_url = llm.base_url();
    // The transcription provider is unreachable: the run stops after verify, retrying the
    // submission, which is all this measures. Embeddings go to the simulator, so the
    // process holds no local model (~90 MB of weights) and its RSS is the pipeline's own.
    let env = [
        ("TRANSCRIPTION_PROVIDER", "selfhosted"),
        ("TRANSCRIPTION_BASE_URL", "http://127.0.0.1:9"),
        ("WEBHOOK_PUBLIC_URL", app.base_url.as_str()),
        ("LLM_BASE_URL", llm_url.as_str()),
        ("EMBEDDINGS_PROVIDER", "openai"),
        ("EMBEDDINGS_BASE_URL", llm_url.as_str()),
        ("EMBEDDINGS_DIMENSION", "384"),
    ];

    println!(
        "\n3. verify: a WAV whose header is at the start, probed by a worker process ({})",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    for size in [32 * 1024 * 1024, big] {
        let worker = WorkerProcess::spawn(
            &binary,
            &ctx,
            &env,
            &scratch.path().join(format!("worker-{size}.log")),
        );
        let data_len = u32::try_from(size - 44).expect("a WAV holds at most 4 GiB");
        let header = media::wav_header(data_len);
        let started = Instant::now();
        let staged = app
            .stage_upload(&owner, "big.wav", "audio/wav", size, |offset, len| {
                let mut part = vec![0u8; len];
                if offset == 0 {
                    part[..44].copy_from_slice(&header);
                }
                part
            })
            .await;
        let uploaded = started.elapsed();
        // Idle, connected and polling: what the process holds before it verifies anything.
        let idle = worker.peak_rss().unwrap_or(0);
        // Completing assembles the parts in S3, which for 2 GiB takes a while on its own;
        // the verify stage starts once it returns.
        let started = Instant::now();
        app.complete_staged(&owner, &staged).await;
        let completed = started.elapsed();
        let started = Instant::now();
        let id = Uuid::parse_str(&staged.id).unwrap();
        let info: Value = wait::until("the media info", Duration::from_secs(120), || async {
            sqlx::query_scalar::<_, Option<Value>>(
                "SELECT media_info FROM recordings WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&ctx.owner_pool)
            .await
            .unwrap()
        })
        .await;
        let verified = started.elapsed();
        let peak = worker.peak_rss().unwrap_or(0);
        println!(
            "  {:>5} MiB: bytes read {:>7}, worker peak RSS {:.1} MB (idle {:.1} MB), verified in {:.0} ms after the upload ({:.1} s of PUTs, {:.1} s to complete)",
            size / 1024 / 1024,
            info["bytes_read"],
            peak as f64 / 1e6,
            idle as f64 / 1e6,
            ms(verified),
            uploaded.as_secs_f64(),
            completed.as_secs_f64()
        );
        worker.kill();
    }
    println!("  target: peak RSS < 150 MB, bytes read the same for both sizes");
}

async fn whisper() {
    let minutes: Vec<u32> = std::env::var("BENCH_WHISPER_MINUTES")
        .unwrap_or_else(|_| "10,60".into())
        .split(',')
        .map(|m| m.trim().parse().expect("minutes"))
        .collect();
    let ctx = TestContext::new().await;
    let app = api(&ctx).await;
    let sim = OpenAiSimulator::start().await;
    let owner = app.register("whisper-bench@example.com").await;
    let scratch = tools::scratch_dir("bench-whisper");
    let binary = if cfg!(debug_assertions) {
        tools::workspace_binary("mediadocs-worker")
    } else {
        tools::release_binary("mediadocs-worker")
    };
    let url = sim.base_url();
    let env = [
        ("TRANSCRIPTION_PROVIDER", "whisper"),
        ("TRANSCRIPTION_BASE_URL", url.as_str()),
        ("WEBHOOK_PUBLIC_URL", app.base_url.as_str()),
        ("LLM_BASE_URL", url.as_str()),
        ("EMBEDDINGS_PROVIDER", "openai"),
        ("EMBEDDINGS_BASE_URL", url.as_str()),
        ("EMBEDDINGS_DIMENSION", "384"),
    ];
    println!(
        "\n4. whisper: a worker process ({}) transcribing a 16 kHz WAV through the Whisper \
         simulator in 10-minute chunks, 3 at a time",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    for m in minutes {
        let worker = WorkerProcess::spawn(
            &binary,
            &ctx,
            &env,
            &scratch.path().join(format!("worker-{m}.log")),
        );
        let wav = media::tagged_wav(m * 60, &format!("whisper-{m}"));
        let staged = app
            .stage_upload(&owner, "long.wav", "audio/wav", wav.len() as u64, |o, n| {
                wav[o as usize..o as usize + n].to_vec()
            })
            .await;
        let idle = worker.peak_rss().unwrap_or(0);
        let started = Instant::now();
        app.complete_staged(&owner, &staged).await;
        let id = Uuid::parse_str(&staged.id).unwrap();
        let segments: i64 = wait::until("the transcript", Duration::from_secs(1800), || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT segment_count::bigint FROM transcripts WHERE recording_id = $1",
            )
            .bind(id)
            .fetch_optional(&ctx.owner_pool)
            .await
            .unwrap()
        })
        .await;
        let took = started.elapsed();
        println!(
            "  {m:>4} min ({:.0} MB): {segments} segments in {:.1} s, worker peak RSS {:.1} MB (idle {:.1} MB)",
            wav.len() as f64 / 1e6,
            took.as_secs_f64(),
            worker.peak_rss().unwrap_or(0) as f64 / 1e6,
            idle as f64 / 1e6,
        );
        worker.kill();
    }
}

fn main() {
    let parts =
        std::env::var("BENCH_PARTS").unwrap_or_else(|_| "overhead,mapreduce,verify,whisper".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for part in parts.split(',') {
            match part.trim() {
                "overhead" => overhead().await,
                "mapreduce" => map_reduce().await,
                "verify" => verify().await,
                "whisper" => whisper().await,
                other => panic!("unknown part {other:?}: overhead, mapreduce, verify or whisper"),
            }
        }
    });
}
