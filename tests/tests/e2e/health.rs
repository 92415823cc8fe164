//! `/healthz`, `/readyz`, `/metrics`, the OpenAPI document, and the problem format.

use mediadocs_tests::{TestApp, TestContext, postgres::PgServer};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn readyz_is_ready_against_real_postgres_temporal_and_s3() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;

    let live = app.get("/healthz").await;
    assert_eq!(live.status(), 200);

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert!(
        ready.headers().contains_key("x-request-id"),
        "every response carries a request id"
    );
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_names_postgres_when_it_is_stopped() {
    let ctx = TestContext::new().await;
    let mut postgres = PgServer::start("readyz")
        .await
        .expect("a private PostgreSQL");
    let pool = mediadocs_store::connect::postgres(&mediadocs_settings::DatabaseSettings {
        url: postgres.url("postgres").into(),
        migration_url: None,
        max_connections: 2,
    })
    .unwrap();
    let app = TestApp::spawn_with(&ctx, ctx.api_settings(), pool).await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    postgres.stop();

    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["status"], 503);
    assert_eq!(problem["dependency"], "postgresql");
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("/dependency-unavailable")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_routes_and_methods_answer_with_problem_documents() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;

    let missing = app.get("/no/such/route").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );

    let wrong_method = app.http.delete(app.url("/healthz")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(
        wrong_method.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_requests_by_route_and_status() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    app.get("/healthz").await;
    app.get("/no/such/route").await;

    let body = app.get("/metrics").await.text().await.unwrap();
    assert!(
        body.lines().any(|l| l.starts_with("http_requests_total")
            && l.contains(r#"route="/healthz""#)
            && l.contains(r#"status="200""#)),
        "no counter for /healthz in:\n{body}"
    );
    assert!(
        body.contains("http_request_duration_seconds_bucket"),
        "latency histogram missing"
    );
    assert!(
        body.contains(r#"route="unmatched""#),
        "unmatched paths share one label"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_document_and_docs_page_are_served_locally() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;

    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
    for path in ["/healthz", "/readyz", "/api/diagnostics/ping"] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }

    let page = app.get("/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "the docs page is Swagger UI");
    assert!(
        !html.contains("://cdn"),
        "the docs page must not load assets from a CDN"
    );
    let bundle = app.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(
        bundle.status(),
        200,
        "the UI's script is served by the API itself"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_allows_only_configured_origins() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/api/recordings"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let denied = preflight("https://evil.example.com").await.unwrap();
    assert!(!denied.headers().contains_key("access-control-allow-origin"));
}
