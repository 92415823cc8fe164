//! Orchestration benchmarks against a real Temporal dev server (in memory), PostgreSQL and S3
//! started by the test harness.
//!
//! The first figure is the baseline every later orchestration figure is compared with: bare
//! Temporal, N workflows of one no-op activity each.
//!
//!     cargo bench -p mediadocs-tests --bench orchestration
//!
//! Knobs: BENCH_WORKFLOWS (default 300), BENCH_CONCURRENCY (50), BENCH_RUNS (5).

use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use mediadocs_tests::{
    TestContext, TestWorker,
    stats::{Spread, percentile},
};
use mediadocs_workflows::NoopWorkflow;
use temporalio_client::{Client, WorkflowGetResultOptions, WorkflowStartOptions};

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Run {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

async fn one_workflow(client: &Client, queue: &str, id: String, activities: u32) -> Duration {
    let started = Instant::now();
    let handle = client
        .start_workflow(
            NoopWorkflow::run,
            activities,
            WorkflowStartOptions::new(queue, id).build(),
        )
        .await
        .expect("starting a workflow");
    let done = handle
        .get_result(WorkflowGetResultOptions::default())
        .await
        .expect("a result");
    assert_eq!(done, activities);
    started.elapsed()
}

async fn run(ctx: &TestContext, label: &str, workflows: usize, concurrency: usize) -> Run {
    let started = Instant::now();
    let mut latencies: Vec<Duration> = stream::iter(0..workflows)
        .map(|i| {
            one_workflow(
                &ctx.temporal,
                &ctx.task_queue,
                format!("bench-{label}-{i}"),
                1,
            )
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    Run {
        per_second: workflows as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile(&mut latencies, 50.0).as_secs_f64() * 1e3,
        p99_ms: percentile(&mut latencies, 99.0).as_secs_f64() * 1e3,
    }
}

fn main() {
    let workflows = knob("BENCH_WORKFLOWS", 300);
    let concurrency = knob("BENCH_CONCURRENCY", 50);
    let runs = knob("BENCH_RUNS", 5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ctx = TestContext::new().await;
        let _worker = TestWorker::spawn(&ctx);
        run(&ctx, "warmup", 30, concurrency).await;

        let mut results = Vec::new();
        for r in 0..runs {
            let result = run(&ctx, &format!("run{r}"), workflows, concurrency).await;
            eprintln!(
                "  run {r}: {:.1} wf/s, p50 {:.1} ms, p99 {:.1} ms",
                result.per_second, result.p50_ms, result.p99_ms
            );
            results.push(result);
        }
        let spread = |f: fn(&Run) -> f64| Spread::of(&results.iter().map(f).collect::<Vec<_>>());
        println!(
            "\nbaseline: bare Temporal, {workflows} workflows x 1 no-op activity, \
             {concurrency} in flight, {runs} runs (Temporal dev server in memory, {} build)",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
        );
        println!("  throughput (wf/s)     {}", spread(|r| r.per_second));
        println!("  p50 latency (ms)      {}", spread(|r| r.p50_ms));
        println!("  p99 latency (ms)      {}", spread(|r| r.p99_ms));
    });
}
