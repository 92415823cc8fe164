//! A workflow started by the API-side client runs in the worker and returns its result.

use mediadocs_tests::{TestApp, TestContext, TestWorker};
use serde_json::{Value, json};
use temporalio_client::{WorkflowDescribeOptions, WorkflowExecutionStatus};

#[tokio::test(flavor = "multi_thread")]
async fn api_client_starts_a_workflow_that_the_worker_runs() {
    let ctx = TestContext::new().await;
    let _worker = TestWorker::spawn(&ctx);

    let out =
        mediadocs_api::orchestration::ping(&ctx.temporal, &ctx.task_queue, "client-1", "hi".into())
            .await
            .expect("the ping workflow completes");
    assert_eq!(out.reply, "pong: hi");

    let (workflow_id, message): (String, String) =
        sqlx::query_as("SELECT workflow_id, message FROM diagnostic_pings WHERE id = $1")
            .bind(out.row_id)
            .fetch_one(&ctx.pool)
            .await
            .expect("the activity wrote its row");
    assert_eq!(
        (workflow_id.as_str(), message.as_str()),
        ("ping-client-1", "hi")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn diagnostics_ping_endpoint_round_trips_through_the_worker() {
    let ctx = TestContext::new().await;
    let _worker = TestWorker::spawn(&ctx);
    let app = TestApp::spawn(&ctx).await;

    let response = app
        .post_json("/api/diagnostics/ping", &json!({"message": "over http"}))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["reply"], "pong: over http");

    let workflow_id = body["workflow_id"].as_str().unwrap();
    let described = ctx
        .temporal
        .get_workflow_handle::<mediadocs_workflows::PingWorkflow>(workflow_id)
        .describe(WorkflowDescribeOptions::default())
        .await
        .unwrap();
    assert_eq!(described.status(), WorkflowExecutionStatus::Completed);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_ping_activity_writes_one_row() {
    let ctx = TestContext::new().await;
    let _worker = TestWorker::spawn(&ctx);
    let first =
        mediadocs_api::orchestration::ping(&ctx.temporal, &ctx.task_queue, "twice", "a".into())
            .await
            .unwrap();
    // Same workflow ID again, as a retry after a lost completion would be.
    let second =
        mediadocs_api::orchestration::ping(&ctx.temporal, &ctx.task_queue, "twice", "a".into())
            .await
            .unwrap();
    assert_eq!(first.row_id, second.row_id);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM diagnostic_pings")
        .fetch_one(&ctx.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}
