//! Regeneration as its own durable run, and a pipeline whose document could not be written.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use mediadocs_tests::histories;

use super::{call, events, get, uuid, wait_for_events};
use crate::providers::webhooks::{media, pipeline_result, sidecar, stack};

const INCIDENT_REVIEW: &str = "00000000-0000-7000-8000-000000000006";

/// The run's result: its version event is written by its last activity, just before the
/// workflow completes.
async fn wait_for_completion(ctx: &mediadocs_tests::TestContext, workflow_id: &str) {
    let handle = ctx
        .temporal
        .get_workflow_handle::<mediadocs_workflows::document::DocumentWorkflow>(workflow_id);
    tokio::time::timeout(
        Duration::from_secs(60),
        handle.get_result(Default::default()),
    )
    .await
    .expect("the regeneration ends within a minute")
    .expect("the regeneration succeeds");
}

fn regenerate_path(id: &str) -> String {
    format!("/api/recordings/{id}/documents")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_regeneration_writes_the_next_version_once_and_a_failed_one_keeps_it() {
    let s = stack(Duration::from_secs(600)).await;
    let bytes = media("regenerate");
    s.sim.register(&bytes, sidecar());
    let owner = s.app.register("regen@example.com").await;
    let member = crate::identity::members::invite_and_join(
        &s.app,
        &owner,
        "regen-member@example.com",
        "member",
    )
    .await;
    let stranger = s.app.register("regen-stranger@example.com").await;
    let id = s.app.upload(&owner, "regen.wav", "audio/wav", &bytes).await;
    pipeline_result(&s.ctx, &id).await;
    let path = regenerate_path(&id);

    // Refusals first: they start nothing.
    let (status, ..) = call(
        &s.app,
        &member.token,
        Method::POST,
        &path,
        Some(&json!({})),
        &[],
    )
    .await;
    assert_eq!(status, 403);
    let theirs: Value = call(
        &s.app,
        stranger.token(),
        Method::POST,
        "/api/templates",
        Some(&json!({"name": "Theirs"})),
        &[],
    )
    .await
    .2;
    let (status, ..) = call(
        &s.app,
        owner.token(),
        Method::POST,
        &path,
        Some(&json!({"template_id": theirs["id"]})),
        &[],
    )
    .await;
    assert_eq!(status, 404);
    let (status, ..) = call(
        &s.app,
        owner.token(),
        Method::POST,
        &path,
        Some(&json!({"instructions": "x".repeat(100 * 1024 + 1)})),
        &[],
    )
    .await;
    assert_eq!(status, 413);

    // Slow answers keep the run going while the next requests arrive.
    s.llm.set(|k| k.base_latency_ms = 1_500);
    let body = json!({"template_id": INCIDENT_REVIEW, "instructions": "Focus on the migration."});
    let key = [("idempotency-key", "regen-1")];
    let (status, _, first) = call(
        &s.app,
        owner.token(),
        Method::POST,
        &path,
        Some(&body),
        &key,
    )
    .await;
    assert_eq!(status, 202, "{first}");
    let (status, _, again) = call(
        &s.app,
        owner.token(),
        Method::POST,
        &path,
        Some(&body),
        &key,
    )
    .await;
    assert_eq!(
        (status.as_u16(), &again["id"]),
        (200, &first["id"]),
        "{again}"
    );
    let (status, _, busy) = call(
        &s.app,
        owner.token(),
        Method::POST,
        &path,
        Some(&json!({})),
        &[],
    )
    .await;
    assert_eq!(status, 409, "{busy}");

    let updated = wait_for_events(&s.ctx.owner_pool, &id, "document.updated", 1).await;
    assert_eq!(
        (
            updated[0]["version"].as_i64(),
            updated[0]["source"].as_str()
        ),
        (Some(2), Some("regenerated"))
    );
    let document_id = updated[0]["document_id"].as_str().unwrap().to_owned();
    let workflow_id = first["workflow_id"].as_str().unwrap();
    wait_for_completion(&s.ctx, workflow_id).await;
    histories::save(&s.ctx.temporal, workflow_id, "regeneration").await;
    let (_, document) = get(&s.app, &owner, &format!("/api/documents/{document_id}")).await;
    assert_eq!(document["template"]["name"], "Incident review");
    assert_eq!(document["updated_by"], owner.user_id().to_string());
    let markdown = document["markdown"].as_str().unwrap();
    assert!(
        markdown.contains("## Timeline") && markdown.contains("## Root cause"),
        "{markdown}"
    );
    let runs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM document_generations WHERE recording_id = $1")
            .bind(Uuid::parse_str(&id).unwrap())
            .fetch_one(&s.ctx.owner_pool)
            .await
            .unwrap();
    assert_eq!(runs, 1, "the same key started one run");
    let progress = events(&s.ctx.owner_pool, &id, "pipeline.progress").await;
    assert!(
        progress
            .iter()
            .any(|p| p["stage"] == "generate" && p["percent"] == 40),
        "{progress:?}"
    );

    // A run whose model refuses: the version stays, and the failure is reported.
    s.llm.set(|k| {
        k.base_latency_ms = 0;
        k.content_policy_next = 100;
    });
    let (status, _, failing) = call(
        &s.app,
        owner.token(),
        Method::POST,
        &path,
        Some(&json!({"instructions": "Shorter, please."})),
        &[],
    )
    .await;
    assert_eq!(status, 202, "{failing}");
    let failed = wait_for_events(&s.ctx.owner_pool, &id, "document.generation_failed", 1).await;
    assert_eq!(failed[0]["document_id"], document_id.as_str());
    let (_, document) = get(&s.app, &owner, &format!("/api/documents/{document_id}")).await;
    assert_eq!(
        (document["version"].as_i64(), document["status"].as_str()),
        (Some(2), Some("published"))
    );
    let (status, error): (String, Option<String>) =
        sqlx::query_as("SELECT status, error FROM document_generations WHERE id = $1")
            .bind(uuid(&failing["id"]))
            .fetch_one(&s.ctx.owner_pool)
            .await
            .unwrap();
    assert_eq!(status, "failed", "{error:?}");
    let workflow = s
        .ctx
        .temporal
        .get_workflow_handle::<temporalio_client::UntypedWorkflow>(
            failing["workflow_id"].as_str().unwrap(),
        );
    let history = String::from_utf8(
        workflow
            .fetch_history(Default::default())
            .to_json()
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        history.contains("LlmContentPolicy"),
        "the run failed with the model's refusal"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_document_that_cannot_be_written_leaves_the_recording_completed_and_searchable() {
    let s = stack(Duration::from_secs(600)).await;
    s.llm.set(|k| k.content_policy_next = 1_000);
    let bytes = media("unwritable");
    s.sim.register(&bytes, sidecar());
    let owner = s.app.register("unwritable@example.com").await;
    let id = s.app.upload(&owner, "u.wav", "audio/wav", &bytes).await;
    let outcome = pipeline_result(&s.ctx, &id).await;
    assert!(outcome["document_id"].is_null(), "{outcome}");
    histories::save(
        &s.ctx.temporal,
        &mediadocs_workflows::names::pipeline_workflow_id(&id),
        "document-failure",
    )
    .await;

    let recording = s.app.recording(&owner, &id).await;
    assert_eq!(recording["status"], "completed", "{recording}");
    assert_eq!(recording["document"]["status"], "failed");
    assert!(
        recording["document"]["status_reason"]
            .as_str()
            .unwrap()
            .contains("content"),
        "{recording}"
    );
    assert_eq!(
        events(&s.ctx.owner_pool, &id, "document.generation_failed")
            .await
            .len(),
        1
    );
    let (status, found) = get(&s.app, &owner, "/api/search?q=migration%20to%20Postgres").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["results"][0]["recording_id"], id.as_str(), "{found}");

    // Regeneration repairs it.
    s.llm.set(|k| k.content_policy_next = 0);
    let (status, _, run) = call(
        &s.app,
        owner.token(),
        Method::POST,
        &regenerate_path(&id),
        None,
        &[],
    )
    .await;
    assert_eq!(status, 202, "{run}");
    let updated = wait_for_events(&s.ctx.owner_pool, &id, "document.updated", 1).await;
    assert_eq!(updated[0]["version"], 1);
    let recording = s.app.recording(&owner, &id).await;
    assert_eq!(
        (
            recording["document"]["status"].as_str(),
            recording["document"]["version"].as_i64()
        ),
        (Some("draft"), Some(1))
    );
}
