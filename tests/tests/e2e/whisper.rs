//! The synchronous provider's path, end to end: a browser's WebM/Opus recording is decoded
//! (Opus by libopus), resampled to 16 kHz mono, cut into chunks, sent to the Whisper
//! simulator a few at a time, and stitched back onto the recording's clock.

use std::time::Duration;

use mediadocs_dev::openai::OpenAiSimulator;
use mediadocs_tests::{
    TestApp, TestContext, histories, tools,
    worker::{TestWorker, WorkerProviders},
};
use uuid::Uuid;

use crate::providers::webhooks::pipeline_result;

/// Chunks of at most this long: the 32-second sample then needs three or four, depending on
/// where the pauses let the planner cut.
const CHUNK_SECS: u64 = 12;

#[tokio::test(flavor = "multi_thread")]
async fn whisper_transcribes_a_browser_webm_in_chunks_and_stitches_the_times() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let sim = OpenAiSimulator::start().await;
    let providers = WorkerProviders::selfhosted(
        "http://127.0.0.1:9",
        &app.base_url,
        Duration::from_secs(600),
        Duration::from_secs(600),
    )
    .with_llm(&sim.base_url())
    .with_whisper(&sim.base_url(), CHUNK_SECS, 2);
    let _worker = TestWorker::spawn_with(&ctx, providers);

    let webm = std::fs::read(tools::repo_root().join("samples/weekly-sync.webm")).unwrap();
    let owner = app.register("whisper@example.com").await;
    let id = app
        .upload(&owner, "weekly-sync.webm", "video/webm", &webm)
        .await;
    let outcome = pipeline_result(&ctx, &id).await;
    histories::save(
        &ctx.temporal,
        &mediadocs_workflows::names::pipeline_workflow_id(&id),
        "whisper-chunks",
    )
    .await;
    let recording = Uuid::parse_str(&id).unwrap();

    let chunks: Vec<(i32, i64, i64)> = sqlx::query_as(
        "SELECT c.chunk_index, c.start_ms, c.end_ms FROM transcription_chunks c
         JOIN transcription_jobs j ON j.id = c.job_id WHERE j.recording_id = $1
         ORDER BY c.chunk_index",
    )
    .bind(recording)
    .fetch_all(&ctx.owner_pool)
    .await
    .unwrap();
    assert!((3..=4).contains(&chunks.len()), "{chunks:?}");
    assert_eq!(chunks[0].1, 0);
    for pair in chunks.windows(2) {
        assert_eq!(pair[0].2, pair[1].1, "chunks are contiguous: {chunks:?}");
    }
    for (_, start, end) in &chunks {
        assert!(end - start <= CHUNK_SECS as i64 * 1000, "{chunks:?}");
    }
    // The decoded audio is the recording's own length (the sidecar says 31,883 ms).
    let decoded = chunks.last().unwrap().2;
    assert!((31_700..=32_100).contains(&decoded), "decoded {decoded} ms");
    assert_eq!(sim.calls().transcription_requests, chunks.len() as u64);
    // Each stored chunk moved the progress bar through the transcribe stage.
    let progress: Vec<i64> = sqlx::query_scalar(
        "SELECT (payload->>'done')::bigint FROM events
         WHERE type = 'pipeline.progress' AND payload->>'stage' = 'transcribe'
           AND payload->>'done' IS NOT NULL AND payload->>'recording_id' = $1
         ORDER BY id",
    )
    .bind(&id)
    .fetch_all(&ctx.owner_pool)
    .await
    .unwrap();
    assert_eq!(progress, (1..=chunks.len() as i64).collect::<Vec<_>>());

    // The simulator answers each chunk with 5-second segments from the chunk's start, so the
    // stitched transcript restarts at each chunk's offset and ends where the audio does.
    let segments: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT start_ms, end_ms FROM transcript_segments WHERE recording_id = $1 ORDER BY idx",
    )
    .bind(recording)
    .fetch_all(&ctx.owner_pool)
    .await
    .unwrap();
    let expected: Vec<(i64, i64)> = chunks
        .iter()
        .flat_map(|&(_, start, end)| {
            (start..end)
                .step_by(5_000)
                .map(move |s| (s, (s + 5_000).min(end)))
        })
        .collect();
    let close = |a: i64, b: i64| (a - b).abs() <= 1;
    assert_eq!(
        segments.len(),
        expected.len(),
        "{segments:?} vs {expected:?}"
    );
    for (got, want) in segments.iter().zip(&expected) {
        assert!(
            close(got.0, want.0) && close(got.1, want.1),
            "{segments:?} vs {expected:?}"
        );
    }
    assert_eq!(outcome["transcript_segments"], segments.len());
    let (provider, duration): (String, Option<i64>) =
        sqlx::query_as("SELECT provider, duration_ms FROM transcripts WHERE recording_id = $1")
            .bind(recording)
            .fetch_one(&ctx.owner_pool)
            .await
            .unwrap();
    assert_eq!((provider.as_str(), duration), ("whisper", Some(decoded)));
}
