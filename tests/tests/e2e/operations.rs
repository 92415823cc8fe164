//! What operators do to Temporal, and what the pipeline must survive: the server restarted
//! (on its persistent database) in the middle of a run, and `temporal workflow reset`
//! re-running a finished pipeline from the start without duplicating anything.

use std::{process::Command, time::Duration};

use mediadocs_dev::transcription::Knobs;
use mediadocs_tests::{TestContext, temporal::TemporalServer, tools, wait};
use mediadocs_workflows::MediaPipelineWorkflow;
use uuid::Uuid;

use crate::providers::webhooks::{media, pipeline_result, sidecar, stack, stack_on};

/// Rows the pipeline writes, which a re-run must replace or reuse, never add to.
#[derive(Debug, PartialEq, Eq)]
struct Rows {
    transcripts: i64,
    segments: i64,
    documents: i64,
    summaries: i64,
    passages: i64,
}

async fn rows(ctx: &TestContext, id: &str) -> Rows {
    let (transcripts, segments, documents, summaries, passages) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM transcripts WHERE recording_id = $1),
                (SELECT count(*) FROM transcript_segments WHERE recording_id = $1),
                (SELECT count(*) FROM documents WHERE recording_id = $1),
                (SELECT count(*) FROM document_summaries WHERE recording_id = $1),
                (SELECT count(*) FROM passages WHERE recording_id = $1)",
    )
    .bind(Uuid::parse_str(id).unwrap())
    .fetch_one(&ctx.owner_pool)
    .await
    .unwrap();
    Rows {
        transcripts,
        segments,
        documents,
        summaries,
        passages,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_temporal_server_restarted_mid_workflow_and_the_pipeline_completes() {
    let mut temporal = TemporalServer::start_persistent().await.unwrap();
    let mut ctx = TestContext::new().await;
    ctx.use_temporal(&temporal).await;
    let s = stack_on(ctx, Duration::from_secs(2)).await;
    // The provider takes a while, so the run is waiting in the transcribe stage when the
    // server goes away, and its callback comes after the server is back.
    s.sim.set_knobs(Knobs {
        processing_ms: 6_000,
        ..Knobs::default()
    });
    let bytes = media("server-restart");
    s.sim.register(&bytes, sidecar());
    let owner = s.app.register("restart@example.com").await;
    let id = s.app.upload(&owner, "r.wav", "audio/wav", &bytes).await;
    let handle = s.ctx.temporal.get_workflow_handle::<MediaPipelineWorkflow>(
        mediadocs_workflows::names::pipeline_workflow_id(&id),
    );
    wait::pipeline_progress(
        &s.ctx.temporal,
        &id,
        "the transcribe stage",
        Duration::from_secs(30),
        |p| p.stage == "transcribe",
    )
    .await;

    temporal.restart().await.unwrap();

    let outcome = tokio::time::timeout(
        Duration::from_secs(120),
        handle.get_result(Default::default()),
    )
    .await
    .expect("the pipeline ends within two minutes of the restart")
    .expect("the pipeline succeeds");
    let rows = rows(&s.ctx, &id).await;
    assert_eq!((rows.transcripts, rows.documents), (1, 1), "{rows:?}");
    assert_eq!(rows.passages, i64::from(outcome.passages));
    let status: String = sqlx::query_scalar("SELECT status FROM recordings WHERE id = $1")
        .bind(Uuid::parse_str(&id).unwrap())
        .fetch_one(&s.ctx.owner_pool)
        .await
        .unwrap();
    assert_eq!(status, "completed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_to_the_first_workflow_task_reruns_the_pipeline_without_duplicates() {
    let s = stack(Duration::from_secs(600)).await;
    let bytes = media("reset");
    s.sim.register(&bytes, sidecar());
    let owner = s.app.register("reset@example.com").await;
    let id = s.app.upload(&owner, "reset.wav", "audio/wav", &bytes).await;
    let first = pipeline_result(&s.ctx, &id).await;
    let before = rows(&s.ctx, &id).await;
    let workflow_id = mediadocs_workflows::names::pipeline_workflow_id(&id);

    // What the runbook tells an operator to run.
    let out = Command::new(tools::binary("temporal"))
        .args(["workflow", "reset", "--workflow-id", &workflow_id])
        .args([
            "--type",
            "FirstWorkflowTask",
            "--reason",
            "e2e: re-run the pipeline",
        ])
        .args([
            "--address",
            &format!("127.0.0.1:{}", s.ctx.services.temporal.port),
        ])
        .args(["--namespace", "default"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "temporal workflow reset: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The new run goes through every stage again: a second transcription job, the same rows.
    wait::until(
        "the reset run's transcription job",
        Duration::from_secs(30),
        || async {
            let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM transcription_jobs")
                .fetch_one(&s.ctx.owner_pool)
                .await
                .unwrap();
            (jobs == 2).then_some(())
        },
    )
    .await;
    let second = pipeline_result(&s.ctx, &id).await;
    assert_eq!(second["document_id"], first["document_id"]);
    assert_eq!(rows(&s.ctx, &id).await, before);
    let calls = s.sim.calls();
    assert_eq!(calls.submissions, 2, "{calls:?}");
}
