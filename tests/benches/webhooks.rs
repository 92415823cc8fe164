//! Webhook benchmarks: Standard Webhooks signature verification per second on one core, and
//! the transcription webhook endpoint (the real API in-process, real PostgreSQL and Temporal)
//! under a local load generator: closed loop at a fixed concurrency, and open loop at a fixed
//! rate (target: p99 under 20 ms at 500 requests/s). For scale, the same two loops of bare
//! Temporal signals, which the endpoint sends one of per delivery.
//!
//!     cargo bench -p mediadocs-tests --bench webhooks
//!
//! Every request is a new, correctly signed delivery for one of BENCH_RECORDINGS recordings,
//! each with a pipeline workflow started (on a task queue no worker polls, so the signals
//! are recorded by the server and nothing else runs). Knobs: BENCH_RUNS (3), BENCH_SECS (10),
//! BENCH_CONCURRENCY (32), BENCH_RATE (500), BENCH_RECORDINGS (50). The harness's PostgreSQL
//! skips fsync; MEDIADOCS_TEST_PG_DURABLE=1 makes its commits wait for the disk, as in
//! production.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures::{StreamExt, stream};
use mediadocs_providers::webhook::standard::{self, Secret};
use mediadocs_tests::{
    TestApp, TestContext,
    context::{TEST_SELFHOSTED_SECRETS, test_job_tokens},
    fixtures,
    stats::{Spread, percentile},
};
use mediadocs_workflows::{
    MediaPipelineWorkflow, RecordingRef, transcription::TranscriptionFinished,
};
use temporalio_client::{WorkflowSignalOptions, WorkflowStartOptions};
use uuid::Uuid;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const BODY: &str = r#"{"transcript_id": "prov-1", "status": "completed"}"#;

fn verifications_per_sec(iterations: u32) -> f64 {
    let secret = Secret::parse(TEST_SELFHOSTED_SECRETS[0]).unwrap();
    let now = 1_700_000_000;
    let signature = secret.sign("msg_bench", now, BODY.as_bytes());
    let secrets = [secret];
    let headers = standard::Headers {
        id: Some("msg_bench"),
        timestamp: Some("1700000000"),
        signature: Some(&signature),
    };
    let started = Instant::now();
    for _ in 0..iterations {
        let ok = standard::verify(
            std::hint::black_box(&secrets),
            std::hint::black_box(headers),
            std::hint::black_box(BODY.as_bytes()),
            now,
        );
        assert!(ok.is_ok());
    }
    f64::from(iterations) / started.elapsed().as_secs_f64()
}

/// Callback URLs (and bodies) of `n` recordings, each with a job and a running pipeline
/// workflow, and the workflows' IDs.
async fn targets(ctx: &TestContext, app: &TestApp, n: u64) -> (Vec<(String, String)>, Vec<String>) {
    let account = app.register("bench-hooks@example.com").await;
    let org = account.org_id();
    let tokens = test_job_tokens();
    let (mut urls, mut workflows) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let recording = fixtures::recording(&ctx.owner_pool, org, "transcribing").await;
        let provider_job = format!("prov-{recording}");
        let job = fixtures::transcription_job(
            &ctx.owner_pool,
            org,
            recording,
            "selfhosted",
            &provider_job,
        )
        .await;
        let workflow_id = mediadocs_workflows::names::pipeline_workflow_id(recording);
        workflows.push(workflow_id.clone());
        let options = WorkflowStartOptions::new("bench-no-worker", workflow_id).build();
        let input = RecordingRef {
            org_id: org,
            recording_id: recording,
        };
        ctx.temporal
            .start_workflow(MediaPipelineWorkflow::run, input, options)
            .await
            .unwrap();
        let token = tokens.token(&recording.to_string(), &job.to_string());
        let url = app.url(&format!(
            "/api/webhooks/transcription/selfhosted?recording={recording}&job={job}&token={token}"
        ));
        urls.push((
            url,
            format!(r#"{{"transcript_id": "{provider_job}", "status": "completed"}}"#),
        ));
    }
    (urls, workflows)
}

struct Load {
    http: reqwest::Client,
    urls: Vec<(String, String)>,
    secret: Secret,
    sent: AtomicU64,
    temporal: temporalio_client::Client,
    workflows: Vec<String>,
}

impl Load {
    /// One new delivery, signed now; returns its latency.
    async fn deliver(&self) -> Duration {
        let n = self.sent.fetch_add(1, Ordering::Relaxed);
        let (url, body) = &self.urls[n as usize % self.urls.len()];
        let id = format!("msg_{}", Uuid::now_v7().simple());
        let ts = chrono::Utc::now().timestamp();
        let signature = self.secret.sign(&id, ts, body.as_bytes());
        let started = Instant::now();
        let r = self
            .http
            .post(url)
            .header("webhook-id", &id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let receipt = r.bytes().await.unwrap();
        let elapsed = started.elapsed();
        // Stored and signalled, not merely ignored: the bench measures the real path.
        assert_eq!(receipt.as_ref(), br#"{"result":"accepted"}"#);
        elapsed
    }

    /// The Temporal signal alone, as the endpoint sends it: the floor under its latency.
    async fn signal_directly(&self) -> Duration {
        let n = self.sent.fetch_add(1, Ordering::Relaxed);
        let workflow_id = &self.workflows[n as usize % self.workflows.len()];
        let finished = TranscriptionFinished {
            provider: "selfhosted".into(),
            job_id: Uuid::now_v7().to_string(),
            provider_job_id: "prov-bench".into(),
            status: "completed".into(),
        };
        let options = WorkflowSignalOptions::builder()
            .request_id(format!("bench:{n}"))
            .build();
        let started = Instant::now();
        self.temporal
            .get_workflow_handle::<MediaPipelineWorkflow>(workflow_id.clone())
            .signal(
                MediaPipelineWorkflow::transcription_finished,
                finished,
                options,
            )
            .await
            .unwrap();
        started.elapsed()
    }

    async fn step(&self, step: Step) -> Duration {
        match step {
            Step::Deliver => self.deliver().await,
            Step::Signal => self.signal_directly().await,
        }
    }
}

fn summary(mut latencies: Vec<Duration>, elapsed: f64) -> (f64, f64, f64) {
    let rps = latencies.len() as f64 / elapsed;
    let p50 = percentile(&mut latencies, 50.0).as_secs_f64() * 1e3;
    let p99 = percentile(&mut latencies, 99.0).as_secs_f64() * 1e3;
    (rps, p50, p99)
}

/// What one request of a loop does.
#[derive(Clone, Copy)]
enum Step {
    /// A signed delivery through the endpoint.
    Deliver,
    /// The Temporal signal alone.
    Signal,
}

/// `concurrency` loops of `step`, for `secs`.
async fn closed_loop(
    load: &Arc<Load>,
    step: Step,
    concurrency: usize,
    secs: u64,
) -> (f64, f64, f64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let all: Vec<Vec<Duration>> = stream::iter(0..concurrency)
        .map(|_| {
            let load = load.clone();
            async move {
                let mut own = Vec::new();
                while Instant::now() < deadline {
                    own.push(load.step(step).await);
                }
                own
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    summary(
        all.into_iter().flatten().collect(),
        started.elapsed().as_secs_f64(),
    )
}

/// Requests start on a fixed schedule whether or not earlier ones have finished, so a slow
/// server shows as latency instead of silently lowering the rate.
async fn open_loop(load: &Arc<Load>, step: Step, rate: u64, secs: u64) -> (f64, f64, f64) {
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..rate * secs {
        ticker.tick().await;
        let load = load.clone();
        tasks.push(tokio::spawn(async move { load.step(step).await }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.push(t.await.unwrap());
    }
    summary(latencies, started.elapsed().as_secs_f64())
}

fn main() {
    let runs = knob("BENCH_RUNS", 3);
    let secs = knob("BENCH_SECS", 10);
    let concurrency = knob("BENCH_CONCURRENCY", 32) as usize;
    let rate = knob("BENCH_RATE", 500);
    let recordings = knob("BENCH_RECORDINGS", 50);

    let verify: Vec<f64> = (0..runs).map(|_| verifications_per_sec(200_000)).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ctx = TestContext::new().await;
        let mut settings = ctx.api_settings();
        settings.database.max_connections = 20;
        let pool = mediadocs_store::connect::postgres(&settings.database).unwrap();
        let app = TestApp::spawn_with(&ctx, settings, pool).await;
        let (urls, workflows) = targets(&ctx, &app, recordings).await;
        let load = Arc::new(Load {
            http: reqwest::Client::new(),
            urls,
            secret: Secret::parse(TEST_SELFHOSTED_SECRETS[0]).unwrap(),
            sent: AtomicU64::new(0),
            temporal: ctx.temporal.clone(),
            workflows,
        });
        load.deliver().await; // warm the pool and the connections
        // Per loop: requests/s, p50 and p99 of each run.
        let mut figures: [[Vec<f64>; 3]; 4] = Default::default();
        let loops = [
            ("Temporal signals alone, closed loop", Step::Signal, None),
            ("Temporal signals alone, open loop", Step::Signal, Some(rate)),
            ("endpoint, closed loop", Step::Deliver, None),
            ("endpoint, open loop", Step::Deliver, Some(rate)),
        ];
        for r in 0..runs {
            for ((what, step, rate), figure) in loops.iter().zip(&mut figures) {
                let (rps, p50, p99) = match rate {
                    None => closed_loop(&load, *step, concurrency, secs).await,
                    Some(rate) => open_loop(&load, *step, *rate, secs).await,
                };
                eprintln!("  run {r}: {what}: {rps:.0}/s p50 {p50:.2} p99 {p99:.2} ms");
                for (list, value) in figure.iter_mut().zip([rps, p50, p99]) {
                    list.push(value);
                }
            }
        }
        let deliveries: i64 = sqlx::query_scalar("SELECT count(*) FROM transcription_deliveries WHERE signalled_at IS NOT NULL")
            .fetch_one(&ctx.owner_pool)
            .await
            .unwrap();
        println!("webhooks ({runs} runs of {secs} s; median [min–max]); {deliveries} deliveries stored and signalled");
        println!("  signature verification, one core: {} verifications/s (target ≥ 20000)", Spread::of(&verify));
        for ((what, _, rate), [rps, p50, p99]) in loops.iter().zip(&figures) {
            let how = match rate {
                None => format!("{concurrency} concurrent"),
                Some(rate) => format!("at {rate}/s"),
            };
            println!(
                "  {what}, {how}: {}/s, p50 {} ms, p99 {} ms",
                Spread::of(rps),
                Spread::of(p50),
                Spread::of(p99)
            );
        }
        println!("  (target: the endpoint's p99 under 20 ms at 500/s)");
    });
}
