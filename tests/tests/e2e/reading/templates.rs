//! Templates: built-ins every org reads, the org's own with validation, the default, and
//! what deleting one leaves.

use reqwest::Method;
use serde_json::json;

use super::{call, uuid};
use mediadocs_tests::{TestApp, TestContext, fixtures};

#[tokio::test(flavor = "multi_thread")]
async fn templates_are_validated_scoped_and_outlived_by_their_documents() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let owner = app.register("templates@example.com").await;
    let other = app.register("templates-other@example.com").await;

    let (_, _, list) = call(
        &app,
        owner.token(),
        Method::GET,
        "/api/templates",
        None,
        &[],
    )
    .await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");
    assert!(names.contains(&"Meeting notes") && names.contains(&"Incident review"));
    let built_in = list[0]["id"].as_str().unwrap().to_owned();
    let (status, ..) = call(
        &app,
        owner.token(),
        Method::PATCH,
        &format!("/api/templates/{built_in}"),
        Some(&json!({"name": "Mine"})),
        &[],
    )
    .await;
    assert_eq!(status, 403, "built-ins are read-only");

    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (
            json!({"name": "Big", "sections": (0..21).map(|i| format!("S{i}")).collect::<Vec<_>>()}),
            "sections",
        ),
        (
            json!({"name": "Long", "instructions": "x".repeat(8001)}),
            "instructions",
        ),
        (
            json!({"name": "Heading", "sections": ["## Sneaky"]}),
            "sections[0]",
        ),
        (
            json!({"name": "Fixed", "sections": ["Summary"]}),
            "sections[0]",
        ),
    ] {
        let (status, headers, problem) = call(
            &app,
            owner.token(),
            Method::POST,
            "/api/templates",
            Some(&body),
            &[],
        )
        .await;
        assert_eq!(status, 422, "{body}: {problem}");
        super::assert_problem(&headers);
        assert!(
            problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{field}: {problem}"
        );
    }

    let (status, _, mine) = call(&app, owner.token(), Method::POST, "/api/templates",
        Some(&json!({"name": "Sprint review", "sections": ["Shipped", "Slipped"], "is_default": true})), &[]).await;
    assert_eq!(status, 201, "{mine}");
    let (_, _, second) = call(
        &app,
        owner.token(),
        Method::POST,
        "/api/templates",
        Some(&json!({"name": "Retro", "is_default": true})),
        &[],
    )
    .await;
    let (_, _, first_again) = call(
        &app,
        owner.token(),
        Method::GET,
        &format!("/api/templates/{}", mine["id"].as_str().unwrap()),
        None,
        &[],
    )
    .await;
    assert_eq!(
        (
            first_again["is_default"].as_bool(),
            second["is_default"].as_bool()
        ),
        (Some(false), Some(true)),
        "one default"
    );

    // Another org sees neither, and cannot create a recording with them.
    let (status, ..) = call(
        &app,
        other.token(),
        Method::GET,
        &format!("/api/templates/{}", mine["id"].as_str().unwrap()),
        None,
        &[],
    )
    .await;
    assert_eq!(status, 404);
    let body = json!({"filename": "a.webm", "content_type": "video/webm", "size_bytes": 1000, "template_id": mine["id"]});
    let (status, ..) = call(
        &app,
        other.token(),
        Method::POST,
        "/api/recordings",
        Some(&body),
        &[],
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, created) = call(
        &app,
        owner.token(),
        Method::POST,
        "/api/recordings",
        Some(&body),
        &[],
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["recording"]["template_id"], mine["id"]);

    // A document made with a template keeps its name after the template is deleted.
    let recording = uuid(&created["recording"]["id"]);
    let document = fixtures::document(&ctx.owner_pool, owner.org_id(), recording).await;
    sqlx::query("UPDATE document_versions SET template_id = $2, template_name = 'Sprint review' WHERE document_id = $1")
        .bind(document).bind(uuid(&mine["id"])).execute(&ctx.owner_pool).await.unwrap();
    let (status, ..) = call(
        &app,
        owner.token(),
        Method::DELETE,
        &format!("/api/templates/{}", mine["id"].as_str().unwrap()),
        None,
        &[],
    )
    .await;
    assert_eq!(status, 204);
    let (_, _, doc) = call(
        &app,
        owner.token(),
        Method::GET,
        &format!("/api/documents/{document}"),
        None,
        &[],
    )
    .await;
    assert_eq!(
        doc["template"],
        json!({"id": null, "name": "Sprint review"})
    );
    let (_, _, rec) = call(
        &app,
        owner.token(),
        Method::GET,
        &format!("/api/recordings/{recording}"),
        None,
        &[],
    )
    .await;
    assert!(
        rec["template_id"].is_null(),
        "falls back to the default: {rec}"
    );
}
