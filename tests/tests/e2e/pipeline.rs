//! The pipeline under operation: progress while it runs, an activity retried by Temporal,
//! a failed recording retried through the API, and a recording deleted mid-pipeline.

use std::time::Duration;

use mediadocs_dev::transcription::Knobs;
use mediadocs_tests::{histories, wait};
use mediadocs_workflows::MediaPipelineWorkflow;
use reqwest::Method;
use serde_json::Value;
use temporalio_client::{WorkflowDescribeOptions, WorkflowExecutionStatus, WorkflowQueryOptions};
use uuid::Uuid;

use crate::providers::webhooks::{media, pipeline_result, sidecar, stack};

fn workflow_id(id: &str) -> String {
    mediadocs_workflows::names::pipeline_workflow_id(id)
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_is_queryable_while_the_pipeline_runs() {
    let s = stack(Duration::from_secs(600)).await;
    // The provider takes a while, so the run sits in the transcribe stage meanwhile.
    s.sim.set_knobs(Knobs {
        processing_ms: 4_000,
        ..Knobs::default()
    });
    let bytes = media("progress");
    s.sim.register(&bytes, sidecar());
    let owner = s.app.register("progress@example.com").await;
    let id = s.app.upload(&owner, "p.wav", "audio/wav", &bytes).await;

    let handle = s
        .ctx
        .temporal
        .get_workflow_handle::<MediaPipelineWorkflow>(workflow_id(&id));
    let during = wait::pipeline_progress(
        &s.ctx.temporal,
        &id,
        "the transcribe stage",
        Duration::from_secs(20),
        |p| p.stage == "transcribe",
    )
    .await;
    assert_eq!((during.percent, during.chunks_total), (5, 0));

    pipeline_result(&s.ctx, &id).await;
    let after = handle
        .query(
            MediaPipelineWorkflow::progress,
            (),
            WorkflowQueryOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!((after.stage.as_str(), after.percent), ("publish", 100));
    assert!(
        after.chunks_total >= 1 && after.chunks_done == after.chunks_total,
        "{after:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_llm_answer_is_retried_by_temporal_without_duplicates() {
    let s = stack(Duration::from_secs(600)).await;
    s.llm.set(|k| k.empty_next = 1);
    let bytes = media("retried");
    s.sim.register(&bytes, sidecar());
    let owner = s.app.register("retried@example.com").await;
    let id = s.app.upload(&owner, "r.wav", "audio/wav", &bytes).await;

    let outcome = pipeline_result(&s.ctx, &id).await;
    histories::save(&s.ctx.temporal, &workflow_id(&id), "retried-activity").await;
    let recording = Uuid::parse_str(&id).unwrap();
    let (documents, summaries): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM documents WHERE recording_id = $1),
                (SELECT count(*) FROM document_summaries WHERE recording_id = $1 AND level = 0)",
    )
    .bind(recording)
    .fetch_one(&s.ctx.owner_pool)
    .await
    .unwrap();
    assert_eq!((documents, summaries), (1, 1), "{outcome}");
    // The empty answer was the first call; the activity's second attempt succeeded.
    let history = s
        .ctx
        .temporal
        .get_workflow_handle::<MediaPipelineWorkflow>(workflow_id(&id))
        .fetch_history(Default::default())
        .to_json()
        .await
        .unwrap();
    let history = String::from_utf8(history).unwrap();
    assert!(
        history.contains("LlmOutputInvalid") || s.llm.calls().chat_requests >= 3,
        "a retry happened"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_recording_is_retried_through_the_api() {
    let s = stack(Duration::from_secs(600)).await;
    let owner = s.app.register("retry@example.com").await;
    let stranger = s.app.register("retry-other@example.com").await;
    let bytes = media("retry-later");
    // No sidecar yet: the simulator fails the job, as a provider fails audio it cannot read.
    let id = s.app.upload(&owner, "later.wav", "audio/wav", &bytes).await;
    let handle = s
        .ctx
        .temporal
        .get_workflow_handle::<MediaPipelineWorkflow>(workflow_id(&id));
    tokio::time::timeout(
        Duration::from_secs(60),
        handle.get_result(Default::default()),
    )
    .await
    .unwrap()
    .expect_err("the first run fails");

    let retry = |who: &mediadocs_tests::app::Account| {
        s.app
            .authed(
                Method::POST,
                &format!("/api/recordings/{id}/retry"),
                who.token(),
            )
            .send()
    };
    assert_eq!(
        retry(&stranger).await.unwrap().status(),
        404,
        "another org's recording"
    );
    s.sim.register(&bytes, sidecar());
    let r = retry(&owner).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "uploaded");
    let outcome = pipeline_result(&s.ctx, &id).await;
    assert_eq!(outcome["transcript_segments"], 3);
    let attempts: Vec<(i32, String)> = sqlx::query_as(
        "SELECT attempt, status FROM transcription_jobs WHERE recording_id = $1 ORDER BY attempt",
    )
    .bind(Uuid::parse_str(&id).unwrap())
    .fetch_all(&s.ctx.owner_pool)
    .await
    .unwrap();
    assert_eq!(attempts, [(1, "failed".into()), (2, "completed".into())]);
    let again = retry(&owner).await.unwrap();
    assert_eq!(again.status(), 409, "a completed recording is not retried");
    assert_eq!(again.headers()["content-type"], "application/problem+json");
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_recording_mid_pipeline_cancels_it_and_leaves_nothing() {
    let s = stack(Duration::from_secs(600)).await;
    // The provider never finishes, so the run waits in the transcribe stage.
    s.sim.set_knobs(Knobs {
        processing_ms: 600_000,
        ..Knobs::default()
    });
    let bytes = media("deleted");
    s.sim.register(&bytes, sidecar());
    let owner = s.app.register("deleted@example.com").await;
    let id = s.app.upload(&owner, "d.wav", "audio/wav", &bytes).await;
    let recording = Uuid::parse_str(&id).unwrap();
    wait::until(
        "the job to be submitted",
        Duration::from_secs(20),
        || async {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM transcription_jobs WHERE recording_id = $1",
            )
            .bind(recording)
            .fetch_one(&s.ctx.owner_pool)
            .await
            .ok()?;
            (n == 1).then_some(())
        },
    )
    .await;

    assert_eq!(s.app.delete_recording(&owner, &id).await, 204);
    let handle = s
        .ctx
        .temporal
        .get_workflow_handle::<MediaPipelineWorkflow>(workflow_id(&id));
    let status = wait::until("the run to end", Duration::from_secs(30), || async {
        let d = handle
            .describe(WorkflowDescribeOptions::default())
            .await
            .ok()?;
        (d.status() != WorkflowExecutionStatus::Running).then(|| d.status())
    })
    .await;
    assert_eq!(status, WorkflowExecutionStatus::Canceled);
    for table in [
        "recordings",
        "transcription_jobs",
        "pipeline_events",
        "transcripts",
        "documents",
        "document_chunks",
        "passages",
    ] {
        let column = if table == "recordings" {
            "id"
        } else {
            "recording_id"
        };
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE {column} = $1"
        )))
        .bind(recording)
        .fetch_one(&s.ctx.owner_pool)
        .await
        .unwrap();
        assert_eq!(n, 0, "{table} keeps nothing of the deleted recording");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_media_error_fails_after_one_attempt_with_its_type_in_the_history() {
    let s = stack(Duration::from_secs(600)).await;
    let owner = s.app.register("garbage@example.com").await;
    // A `.wav` whose bytes are no container at all.
    let bytes: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let id = s.app.upload(&owner, "noise.wav", "audio/wav", &bytes).await;
    let handle = s
        .ctx
        .temporal
        .get_workflow_handle::<MediaPipelineWorkflow>(workflow_id(&id));
    tokio::time::timeout(
        Duration::from_secs(60),
        handle.get_result(Default::default()),
    )
    .await
    .unwrap()
    .expect_err("the run fails");

    let events = histories::events(&s.ctx.temporal, &workflow_id(&id)).await;
    let probe = events
        .iter()
        .find(|e| {
            e.kind == "ActivityTaskScheduledEventAttributes"
                && e.attributes["activity_type"]["name"] == "media.probe"
        })
        .expect("the probe was scheduled")
        .id;
    let of_probe = |kind: &'static str| {
        events
            .iter()
            .filter(move |e| e.kind == kind && e.attributes["scheduled_event_id"] == probe)
    };
    let attempts: Vec<_> = of_probe("ActivityTaskStartedEventAttributes").collect();
    assert_eq!(attempts.len(), 1, "one started event");
    assert_eq!(
        attempts[0].attributes["attempt"], 1,
        "the first attempt was the last"
    );
    let failed = of_probe("ActivityTaskFailedEventAttributes")
        .next()
        .expect("the probe failed");
    let text = failed.attributes.to_string();
    assert!(text.contains("UnsupportedMedia"), "{text}");
    // The run's own failure carries the same type, for the Temporal UI's list of failures.
    let closed = events
        .iter()
        .find(|e| e.kind == "WorkflowExecutionFailedEventAttributes")
        .expect("the run failed");
    assert!(closed.attributes.to_string().contains("UnsupportedMedia"));

    let (status, stage): (String, Option<String>) =
        sqlx::query_as("SELECT status, failed_stage FROM recordings WHERE id = $1")
            .bind(Uuid::parse_str(&id).unwrap())
            .fetch_one(&s.ctx.owner_pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), stage.as_deref()),
        ("failed", Some("verify"))
    );
    assert_eq!(
        s.sim.calls().submissions,
        0,
        "nothing was sent to transcribe"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_llm_rate_limiting_twice_is_retried_without_duplicate_rows() {
    let s = stack(Duration::from_secs(600)).await;
    s.llm.set(|k| {
        k.rate_limit_next = 2;
        k.retry_after_secs = 1;
    });
    let bytes = media("rate-limited");
    s.sim.register(&bytes, sidecar());
    let owner = s.app.register("rate-limited@example.com").await;
    let id = s.app.upload(&owner, "rl.wav", "audio/wav", &bytes).await;
    let outcome = pipeline_result(&s.ctx, &id).await;

    let recording = Uuid::parse_str(&id).unwrap();
    let (documents, summaries, passages): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM documents WHERE recording_id = $1),
                (SELECT count(*) FROM document_summaries WHERE recording_id = $1 AND level = 0),
                (SELECT count(*) FROM passages WHERE recording_id = $1)",
    )
    .bind(recording)
    .fetch_one(&s.ctx.owner_pool)
    .await
    .unwrap();
    assert_eq!((documents, summaries), (1, 1), "{outcome}");
    assert_eq!(passages, outcome["passages"].as_i64().unwrap());
    // The client waited out the two 429s (Retry-After: 1 s) itself: every activity
    // succeeded on its first attempt.
    let retried = histories::events(&s.ctx.temporal, &workflow_id(&id))
        .await
        .iter()
        .filter(|e| {
            e.kind == "ActivityTaskStartedEventAttributes"
                && e.attributes["attempt"].as_i64().is_some_and(|a| a > 1)
        })
        .count();
    assert_eq!(retried, 0);
    let calls = s.llm.calls();
    assert!(
        calls.chat_requests >= 4,
        "two refused, then summary and document: {calls:?}"
    );
}
