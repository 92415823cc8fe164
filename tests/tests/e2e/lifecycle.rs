//! A recording's status rules, through the store that owns them: real PostgreSQL (as the
//! application role, under row-level security) and the dev S3 server.

use mediadocs_store::{
    recordings::{
        self, RecordingError, RecordingStatus, SizeCheckError, StatusChange, check_stored_size,
    },
    tenancy,
};
use mediadocs_tests::{TestContext, fixtures};
use mediadocs_workflows::{PipelineStage, StageStatus};
use uuid::Uuid;

async fn org(ctx: &TestContext) -> Uuid {
    let org = Uuid::now_v7();
    sqlx::query("INSERT INTO orgs (id, name) VALUES ($1, 'lifecycle')")
        .bind(org)
        .execute(&ctx.owner_pool)
        .await
        .unwrap();
    org
}

async fn status(ctx: &TestContext, id: Uuid) -> (String, Option<String>) {
    sqlx::query_as("SELECT status, status_reason FROM recordings WHERE id = $1")
        .bind(id)
        .fetch_one(&ctx.owner_pool)
        .await
        .unwrap()
}

/// The events of the recording, oldest first, as (type, payload).
async fn events(ctx: &TestContext, id: Uuid) -> Vec<(String, serde_json::Value)> {
    sqlx::query_as(
        "SELECT type, payload FROM events WHERE payload->>'recording_id' = $1::text ORDER BY id",
    )
    .bind(id)
    .fetch_all(&ctx.owner_pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stored_object_of_another_size_rejects_the_recording_and_is_deleted() {
    let ctx = TestContext::new().await;
    let org = org(&ctx).await;
    // Declared 1000 bytes; the object holds 10 (it was replaced after the upload completed).
    let id = fixtures::recording(&ctx.owner_pool, org, "verifying").await;
    let key = format!("orgs/{org}/recordings/{id}/source.webm");
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key(&key)
        .body(vec![0u8; 10].into())
        .send()
        .await
        .unwrap();

    let mut tx = tenancy::begin(&ctx.pool, Some(org), None).await.unwrap();
    let checked = check_stored_size(&mut tx, &ctx.s3, &ctx.bucket, org, id, &key, 1000).await;
    tx.commit().await.unwrap();
    let Err(SizeCheckError::Mismatch { reason }) = checked else {
        panic!("expected a size mismatch, got {checked:?}");
    };
    assert!(
        reason.contains("10 bytes") && reason.contains("1000"),
        "{reason}"
    );
    assert_eq!(status(&ctx, id).await, ("rejected".into(), Some(reason)));
    let head = ctx
        .s3
        .head_object()
        .bucket(&ctx.bucket)
        .key(&key)
        .send()
        .await;
    assert!(head.is_err(), "the mismatched object must be deleted");
    let emitted = events(&ctx, id).await;
    assert_eq!(emitted.len(), 1, "{emitted:?}");
    assert_eq!(emitted[0].0, "recording.status_changed");
    assert_eq!(emitted[0].1["previous"], "verifying");
    assert_eq!(emitted[0].1["status"], "rejected");

    // The run then fails its verify stage: logged, but a rejected recording stays rejected
    // and no second story (recording.failed) is told.
    let mut tx = tenancy::begin(&ctx.pool, Some(org), None).await.unwrap();
    recordings::record_stage(
        &mut tx,
        org,
        id,
        PipelineStage::Verify,
        StageStatus::Failed,
        Some("stored 10 bytes, declared 1000"),
        "run-1",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(status(&ctx, id).await.0, "rejected");
    let logged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pipeline_events WHERE recording_id = $1 AND status = 'failed'",
    )
    .bind(id)
    .fetch_one(&ctx.owner_pool)
    .await
    .unwrap();
    assert_eq!(logged, 1);
    assert_eq!(events(&ctx, id).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_illegal_move_is_an_error_and_writes_nothing() {
    let ctx = TestContext::new().await;
    let org = org(&ctx).await;
    for (from, to) in [
        ("completed", RecordingStatus::Uploaded),
        ("aborted", RecordingStatus::Uploaded),
        ("uploading", RecordingStatus::Verifying),
        ("expired", RecordingStatus::Failed),
    ] {
        let id = fixtures::recording(&ctx.owner_pool, org, from).await;
        let mut tx = tenancy::begin(&ctx.pool, Some(org), None).await.unwrap();
        let moved = recordings::set_status(&mut tx, org, id, StatusChange::to(to)).await;
        tx.commit().await.unwrap();
        assert!(
            matches!(moved, Err(RecordingError::IllegalTransition { .. })),
            "{from} -> {to}: {moved:?}"
        );
        assert_eq!(status(&ctx, id).await.0, from);
        assert!(events(&ctx, id).await.is_empty(), "{from} -> {to}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stage_transition_is_recorded_once_per_run() {
    let ctx = TestContext::new().await;
    let org = org(&ctx).await;
    let id = fixtures::recording(&ctx.owner_pool, org, "verifying").await;
    for run in ["run-1", "run-1", "run-2"] {
        let mut tx = tenancy::begin(&ctx.pool, Some(org), None).await.unwrap();
        let stage = PipelineStage::Transcribe;
        recordings::record_stage(&mut tx, org, id, stage, StageStatus::Started, None, run)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(status(&ctx, id).await, ("transcribing".into(), None));
    let logged: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pipeline_events WHERE recording_id = $1")
            .bind(id)
            .fetch_one(&ctx.owner_pool)
            .await
            .unwrap();
    assert_eq!(logged, 2, "one row per run");
    let kinds: Vec<String> = events(&ctx, id).await.into_iter().map(|e| e.0).collect();
    // The status moved once; each run's start reports progress.
    assert_eq!(
        kinds,
        [
            "recording.status_changed",
            "pipeline.progress",
            "pipeline.progress"
        ]
    );

    // Another org's transaction cannot see the recording: nothing to move.
    let mut tx = tenancy::begin(&ctx.pool, Some(Uuid::now_v7()), None)
        .await
        .unwrap();
    let moved = recordings::set_status(&mut tx, org, id, StatusChange::to(RecordingStatus::Failed))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(moved, None);
    assert_eq!(status(&ctx, id).await.0, "transcribing");
}
