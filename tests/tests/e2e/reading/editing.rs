//! Editing a document: versions added, never rewritten; `If-Match` against lost updates;
//! restore; who may edit.

use reqwest::Method;
use serde_json::{Value, json};

use super::{assert_problem, call, events, uuid};
use crate::identity::members::invite_and_join;
use mediadocs_tests::{TestApp, TestContext, fixtures};

async fn put(
    app: &TestApp,
    token: &str,
    document: &str,
    markdown: &str,
    if_match: Option<&str>,
) -> (u16, Value, Option<String>) {
    let headers: Vec<(&str, &str)> = if_match.map(|m| ("if-match", m)).into_iter().collect();
    let (status, h, body) = call(
        app,
        token,
        Method::PUT,
        &format!("/api/documents/{document}"),
        Some(&json!({"markdown": markdown})),
        &headers,
    )
    .await;
    let etag = h.get("etag").map(|v| v.to_str().unwrap().to_owned());
    (status.as_u16(), body, etag)
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_add_versions_under_if_match_and_only_the_creator_or_an_admin_may_edit() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let owner = app.register("editing-owner@example.com").await;
    let creator = invite_and_join(&app, &owner, "creator@example.com", "member").await;
    let other = invite_and_join(&app, &owner, "other@example.com", "member").await;
    let (status, _, created) = call(
        &app,
        &creator.token,
        Method::POST,
        "/api/recordings",
        Some(&json!({"filename": "notes.webm", "content_type": "video/webm", "size_bytes": 1000})),
        &[],
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let recording = uuid(&created["recording"]["id"]);
    let document = fixtures::document(&ctx.owner_pool, owner.org_id(), recording)
        .await
        .to_string();
    let (_, _, v1) = call(
        &app,
        owner.token(),
        Method::GET,
        &format!("/api/documents/{document}"),
        None,
        &[],
    )
    .await;

    // Another member may read but not edit; the creator and an admin may.
    assert_eq!(
        put(&app, &other.token, &document, "# Mine now", Some("\"v1\""))
            .await
            .0,
        403
    );
    let (status, body, etag) = put(
        &app,
        &creator.token,
        &document,
        "# Second\n\nBy the creator.",
        Some("\"v1\""),
    )
    .await;
    assert_eq!((status, etag.as_deref()), (200, Some("\"v2\"")), "{body}");
    assert_eq!(body["title"], "Second");
    assert_eq!(body["updated_by"], creator.user_id.to_string());
    let (status, _, etag) = put(&app, owner.token(), &document, "# Third", Some("\"v2\"")).await;
    assert_eq!((status, etag.as_deref()), (200, Some("\"v3\"")));

    // Two editors from the same version: one wins, the other learns the current version.
    let (a, b) = tokio::join!(
        put(
            &app,
            &creator.token,
            &document,
            "# Fourth by the creator",
            Some("\"v3\"")
        ),
        put(
            &app,
            owner.token(),
            &document,
            "# Fourth by the owner",
            Some("\"v3\"")
        ),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 412], "{a:?} {b:?}");
    let loser = if a.0 == 412 { &a } else { &b };
    assert_eq!(loser.1["current_etag"], "\"v4\"");
    assert_eq!(loser.2.as_deref(), Some("\"v4\""));

    // Restore copies version 1 into version 5; history stays as it was.
    let (status, _, restored) = call(
        &app,
        owner.token(),
        Method::POST,
        &format!("/api/documents/{document}/versions/1/restore"),
        None,
        &[("if-match", "\"v4\"")],
    )
    .await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(
        (restored["version"].as_i64(), &restored["markdown"]),
        (Some(5), &v1["markdown"])
    );
    let (_, _, versions) = call(
        &app,
        owner.token(),
        Method::GET,
        &format!("/api/documents/{document}/versions"),
        None,
        &[],
    )
    .await;
    let sources: Vec<&str> = versions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["restore", "edit", "edit", "edit", "generated"]);
    assert_eq!(versions["items"][0]["restored_from"], 1);
    let (_, _, second) = call(
        &app,
        owner.token(),
        Method::GET,
        &format!("/api/documents/{document}/versions/2"),
        None,
        &[],
    )
    .await;
    assert_eq!(second["markdown"], "# Second\n\nBy the creator.");
    let updates = events(&ctx.owner_pool, &recording.to_string(), "document.updated").await;
    let numbers: Vec<i64> = updates
        .iter()
        .map(|e| e["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [2, 3, 4, 5]);

    // Bad writes change nothing.
    for (if_match, markdown, want) in [
        (None, "# x".to_owned(), 428),
        (Some("v5"), "# x".to_owned(), 400),
        (Some("W/\"v5\""), "# x".to_owned(), 400),
        (Some("\"v1\""), "# x".to_owned(), 412),
        (Some("\"v5\""), "   ".to_owned(), 422),
        (Some("\"v5\""), "x".repeat(1024 * 1024 + 1), 413),
    ] {
        let (status, body, _) = put(&app, owner.token(), &document, &markdown, if_match).await;
        assert_eq!(status, want, "{if_match:?}: {body}");
        assert!(
            body["type"].as_str().is_some(),
            "a problem document: {body}"
        );
    }
    let (status, headers, _) = call(
        &app,
        owner.token(),
        Method::POST,
        &format!("/api/documents/{document}/versions/42/restore"),
        None,
        &[("if-match", "\"v5\"")],
    )
    .await;
    assert_eq!(status, 404);
    assert_problem(&headers);
    let (_, _, now) = call(
        &app,
        owner.token(),
        Method::GET,
        &format!("/api/documents/{document}"),
        None,
        &[],
    )
    .await;
    assert_eq!(now["version"], 5);

    // Listings: newest first by default, by title, by creator.
    let (_, _, alpha) = call(&app, owner.token(), Method::POST, "/api/recordings",
        Some(&json!({"title": "Alpha review", "filename": "a.webm", "content_type": "video/webm", "size_bytes": 1000})), &[]).await;
    let titles = |list: &Value| -> Vec<String> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, _, newest) = call(
        &app,
        owner.token(),
        Method::GET,
        "/api/recordings",
        None,
        &[],
    )
    .await;
    assert_eq!(titles(&newest), ["Alpha review", "notes.webm"]);
    let (_, _, by_title) = call(
        &app,
        owner.token(),
        Method::GET,
        "/api/recordings?sort=title&limit=1",
        None,
        &[],
    )
    .await;
    assert_eq!(titles(&by_title), ["Alpha review"]);
    let cursor = by_title["next_cursor"].as_str().unwrap();
    let (_, _, next) = call(
        &app,
        owner.token(),
        Method::GET,
        &format!("/api/recordings?sort=title&limit=1&cursor={cursor}"),
        None,
        &[],
    )
    .await;
    assert_eq!(titles(&next), ["notes.webm"]);
    let (_, _, theirs) = call(
        &app,
        owner.token(),
        Method::GET,
        &format!("/api/recordings?created_by={}", creator.user_id),
        None,
        &[],
    )
    .await;
    assert_eq!(titles(&theirs), ["notes.webm"]);
    assert_eq!(theirs["items"][0]["document"]["version"], 5);
    assert!(alpha["recording"]["document"].is_null());
}
