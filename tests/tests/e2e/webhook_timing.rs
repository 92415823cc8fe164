//! Webhooks out of step with the workflow: one that arrives before the workflow waits for
//! it (while the submitting activity still waits for the provider's answer), and one that
//! arrives after the workflow stopped waiting because a poll found the transcript.

use std::time::Duration;

use mediadocs_dev::transcription::Knobs;
use mediadocs_tests::{histories, wait};
use uuid::Uuid;

use crate::providers::webhooks::{media, pipeline_result, sidecar, stack};

async fn transcripts(ctx: &mediadocs_tests::TestContext, id: &str) -> (i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM transcripts WHERE recording_id = $1),
                (SELECT count(*) FROM transcript_segments WHERE recording_id = $1)",
    )
    .bind(Uuid::parse_str(id).unwrap())
    .fetch_one(&ctx.owner_pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_that_arrives_before_the_workflow_waits_is_kept() {
    // Polling every 10 minutes: finishing in seconds proves the early signal was kept.
    let s = stack(Duration::from_secs(600)).await;
    s.sim.set_knobs(Knobs {
        answer_submit_after_callback: true,
        ..Knobs::default()
    });
    let bytes = media("early");
    s.sim.register(&bytes, sidecar());
    let owner = s.app.register("webhook-early@example.com").await;
    let id = s.app.upload(&owner, "early.wav", "audio/wav", &bytes).await;

    let outcome = pipeline_result(&s.ctx, &id).await;
    histories::save(
        &s.ctx.temporal,
        &mediadocs_workflows::names::pipeline_workflow_id(&id),
        "early-webhook",
    )
    .await;
    assert_eq!(outcome["transcript_segments"], 3);
    assert_eq!(transcripts(&s.ctx, &id).await, (1, 3));
    let calls = s.sim.calls();
    // One fetch, for the transcript the callback announced; the poll timer never fired.
    assert_eq!((calls.polls, calls.callback_statuses), (1, vec![200]));

    let events = histories::events(
        &s.ctx.temporal,
        &mediadocs_workflows::names::pipeline_workflow_id(&id),
    )
    .await;
    let submit_scheduled = events
        .iter()
        .find(|e| {
            e.kind == "ActivityTaskScheduledEventAttributes"
                && e.attributes["activity_type"]["name"] == "transcription.submit"
        })
        .expect("the submit activity")
        .id;
    let submit_completed = events
        .iter()
        .find(|e| {
            e.kind == "ActivityTaskCompletedEventAttributes"
                && e.attributes["scheduled_event_id"] == submit_scheduled
        })
        .expect("the submit activity completed")
        .id;
    let signalled = events
        .iter()
        .find(|e| e.kind == "WorkflowExecutionSignaledEventAttributes")
        .expect("the signal")
        .id;
    assert!(
        signalled < submit_completed,
        "the signal ({signalled}) came before the submission's result ({submit_completed})"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_that_arrives_after_a_poll_found_the_transcript_changes_nothing() {
    let s = stack(Duration::from_secs(1)).await;
    s.sim.set_knobs(Knobs {
        callback_delay_ms: 4_000,
        ..Knobs::default()
    });
    let bytes = media("late");
    s.sim.register(&bytes, sidecar());
    let owner = s.app.register("webhook-late@example.com").await;
    let id = s.app.upload(&owner, "late.wav", "audio/wav", &bytes).await;

    pipeline_result(&s.ctx, &id).await;
    let calls = wait::until("the late callback", Duration::from_secs(15), || {
        let calls = s.sim.calls();
        async move { (!calls.callback_statuses.is_empty()).then_some(calls) }
    })
    .await;
    // The poll stored the transcript; the callback came after it.
    let late: bool = sqlx::query_scalar(
        "SELECT d.received_at > t.created_at FROM transcription_deliveries d
         JOIN transcripts t ON t.job_id = d.job_id WHERE t.recording_id = $1",
    )
    .bind(Uuid::parse_str(&id).unwrap())
    .fetch_one(&s.ctx.owner_pool)
    .await
    .unwrap();
    assert!(late, "the callback arrived after the transcript was stored");
    // Acknowledged, so the provider stops retrying, and without a second transcript.
    assert_eq!(calls.callback_statuses, vec![200]);
    assert!(calls.polls >= 1, "{calls:?}");
    assert_eq!(transcripts(&s.ctx, &id).await, (1, 3));
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM transcription_jobs")
        .fetch_one(&s.ctx.owner_pool)
        .await
        .unwrap();
    assert_eq!(jobs, 1);
}
