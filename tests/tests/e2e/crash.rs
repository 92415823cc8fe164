//! Durability: the worker *process* is killed with SIGKILL in the middle of the map phase,
//! or of chunked Whisper transcription; a new worker process finishes the pipeline, with no
//! duplicate summaries, documents, passages or transcribed chunks.

use std::time::Duration;

use mediadocs_dev::{
    openai::OpenAiSimulator,
    transcription::{Options, TranscriptionSimulator},
};
use mediadocs_providers::transcription::{Segment, Transcript};
use mediadocs_tests::{
    TestApp, TestContext, context::TEST_SELFHOSTED_SECRETS, tools, wait,
    worker_process::WorkerProcess,
};
use mediadocs_workflows::MediaPipelineWorkflow;
use uuid::Uuid;

/// A worker process for the self-hosted transcription simulator at `sim` and the LLM at
/// `llm`, calling back the API at `api`; `extra` overrides any of it.
fn worker(
    ctx: &TestContext,
    urls: (&str, &str, &str),
    log: &std::path::Path,
    extra: &[(&str, &str)],
) -> WorkerProcess {
    let (sim, llm, api) = urls;
    let mut env = vec![
        ("TRANSCRIPTION_PROVIDER", "selfhosted"),
        ("TRANSCRIPTION_BASE_URL", sim),
        ("TRANSCRIPTION_POLL_INTERVAL_SECS", "600"),
        ("WEBHOOK_PUBLIC_URL", api),
        ("LLM_BASE_URL", llm),
        ("LLM_MODEL", "simulated-chat"),
        // Small chunks, so the map phase has many steps to be killed in the middle of.
        ("DOCUMENT_CHUNK_TOKENS", "100"),
    ];
    env.extend_from_slice(extra);
    WorkerProcess::spawn(&tools::workspace_binary("mediadocs-worker"), ctx, &env, log)
}

fn long_transcript() -> Transcript {
    let segments = (0..60)
        .map(|i| Segment {
            start_ms: i * 5_000,
            end_ms: i * 5_000 + 4_500,
            text: format!(
                "Item {i}: the team reviewed milestone {i}, agreed on the owner, and noted the \
                 follow-up for ticket OPS-{}.",
                1000 + i
            ),
            speaker: Some(if i % 2 == 0 { "A" } else { "B" }.into()),
            confidence: Some(0.9),
        })
        .collect();
    Transcript {
        language: Some("en".into()),
        duration_ms: Some(300_000),
        segments,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_in_the_map_phase_is_replaced_and_the_pipeline_completes_once() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let sim = TranscriptionSimulator::start(
        "127.0.0.1:0",
        Options {
            signing_secret: Some(
                mediadocs_providers::webhook::standard::Secret::parse(TEST_SELFHOSTED_SECRETS[0])
                    .unwrap(),
            ),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let llm = OpenAiSimulator::start().await;
    // Every LLM call takes 1.5 s, so the map phase lasts long enough to be interrupted.
    llm.set(|k| k.time_to_first_token_ms = 1_500);
    let bytes = mediadocs_tests::media::tagged_wav(5, "crash");
    sim.register(&bytes, long_transcript());
    let scratch = tools::scratch_dir("crash");
    let log = scratch.path().join("worker.log");
    let urls = (sim.base_url(), llm.base_url());
    let urls = (urls.0.as_str(), urls.1.as_str(), app.base_url.as_str());
    let first = worker(&ctx, urls, &log, &[]);

    let owner = app.register("crash@example.com").await;
    let id = app.upload(&owner, "crash.wav", "audio/wav", &bytes).await;
    let handle = ctx.temporal.get_workflow_handle::<MediaPipelineWorkflow>(
        mediadocs_workflows::names::pipeline_workflow_id(&id),
    );
    let progress = wait::pipeline_progress(
        &ctx.temporal,
        &id,
        "the map phase to be under way",
        Duration::from_secs(60),
        |p| p.stage == "generate" && p.chunks_done >= 1 && p.chunks_done < p.chunks_total,
    )
    .await;
    first.kill();

    let _second = worker(&ctx, urls, &log, &[]);
    let outcome = tokio::time::timeout(
        Duration::from_secs(150),
        handle.get_result(Default::default()),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "no result within 150 s; worker log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    })
    .expect("the pipeline completes after the crash");

    let recording = Uuid::parse_str(&id).unwrap();
    let counts: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM documents WHERE recording_id = $1),
                (SELECT count(*) FROM document_summaries WHERE recording_id = $1 AND level = 0),
                (SELECT count(*) FROM passages WHERE recording_id = $1),
                (SELECT count(*) FROM transcripts WHERE recording_id = $1)",
    )
    .bind(recording)
    .fetch_one(&ctx.owner_pool)
    .await
    .unwrap();
    assert_eq!(counts.0, 1, "one document");
    assert_eq!(
        counts.1,
        i64::from(progress.chunks_total),
        "one summary per chunk"
    );
    assert_eq!(
        counts.2,
        i64::from(outcome.passages),
        "passages as reported, once each"
    );
    assert_eq!(counts.3, 1, "one transcript");
    assert!(progress.chunks_total >= 4, "{progress:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_during_chunked_whisper_resumes_without_redoing_finished_chunks() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let sim = OpenAiSimulator::start().await;
    // Each chunk takes 1.5 s at the simulated Whisper, one at a time.
    sim.set(|k| k.base_latency_ms = 1_500);
    let whisper = [
        ("TRANSCRIPTION_PROVIDER", "whisper"),
        ("TRANSCRIPTION_CHUNK_MAX_SECS", "10"),
        ("TRANSCRIPTION_CHUNK_CONCURRENCY", "1"),
    ];
    let scratch = tools::scratch_dir("crash-whisper");
    let log = scratch.path().join("worker.log");
    let url = sim.base_url();
    let spawn = || worker(&ctx, (&url, &url, &app.base_url), &log, &whisper);
    let first = spawn();

    // A minute of audio: six chunks of at most 10 s.
    let bytes = mediadocs_tests::media::tagged_wav(60, "crash-whisper");
    let owner = app.register("crash-whisper@example.com").await;
    let id = app.upload(&owner, "long.wav", "audio/wav", &bytes).await;
    let recording = Uuid::parse_str(&id).unwrap();
    let chunks_stored = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM transcription_chunks c JOIN transcription_jobs j ON j.id = c.job_id
             WHERE j.recording_id = $1",
        )
        .bind(recording)
        .fetch_one(&ctx.owner_pool)
        .await
        .unwrap()
    };
    wait::until(
        "two chunks transcribed",
        Duration::from_secs(60),
        || async { (chunks_stored().await >= 2).then_some(()) },
    )
    .await;
    first.kill();
    let done_before = chunks_stored().await;
    let requests_before = sim.calls().transcription_requests;

    let _second = spawn();
    let handle = ctx.temporal.get_workflow_handle::<MediaPipelineWorkflow>(
        mediadocs_workflows::names::pipeline_workflow_id(&id),
    );
    tokio::time::timeout(
        Duration::from_secs(150),
        handle.get_result(Default::default()),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "no result within 150 s; worker log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    })
    .expect("the pipeline completes after the crash");

    // A tone has no pauses, so where the cuts land (and so how many chunks there are) is up
    // to the planner; the plan is the same for both attempts.
    let chunks: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT c.start_ms, c.end_ms FROM transcription_chunks c
         JOIN transcription_jobs j ON j.id = c.job_id WHERE j.recording_id = $1 ORDER BY c.chunk_index",
    )
    .bind(recording)
    .fetch_all(&ctx.owner_pool)
    .await
    .unwrap();
    assert!(
        chunks.len() >= 6,
        "a minute in chunks of at most 10 s: {chunks:?}"
    );
    let after = sim.calls().transcription_requests - requests_before;
    // The new attempt sends exactly the chunks that were not stored, whatever the killed one
    // had in flight.
    assert_eq!(
        after,
        (chunks.len() as i64 - done_before) as u64,
        "before the kill: {done_before} stored"
    );
    let (transcripts, segments): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM transcripts WHERE recording_id = $1),
                (SELECT count(*) FROM transcript_segments WHERE recording_id = $1)",
    )
    .bind(recording)
    .fetch_one(&ctx.owner_pool)
    .await
    .unwrap();
    // The simulated Whisper answers in 5-second segments per chunk.
    let expected: i64 = chunks.iter().map(|(s, e)| (e - s + 4_999) / 5_000).sum();
    assert_eq!((transcripts, segments), (1, expected));
}
