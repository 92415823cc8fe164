//! What the pipeline makes, in people's hands: documents, transcripts and media through the
//! API, editing with versions, regeneration, templates and exports.

mod editing;
mod files;
mod regeneration;
mod templates;

use std::time::Duration;

use mediadocs_tests::{TestApp, app::Account, wait};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

/// `method path` as `who`, with an optional JSON body: (status, headers, JSON or Null).
pub(crate) async fn call(
    app: &TestApp,
    who: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = app.authed(method, path, who);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("the request reaches the API");
    let (status, headers) = (response.status(), response.headers().clone());
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

pub(crate) async fn get(app: &TestApp, who: &Account, path: &str) -> (StatusCode, Value) {
    let (status, _, body) = call(app, who.token(), Method::GET, path, None, &[]).await;
    (status, body)
}

/// The problem document's content type, which every refusal carries.
#[track_caller]
pub(crate) fn assert_problem(headers: &reqwest::header::HeaderMap) {
    assert_eq!(headers["content-type"], "application/problem+json");
}

/// Events of `kind` about `recording`, oldest first.
pub(crate) async fn events(pool: &PgPool, recording: &str, kind: &str) -> Vec<Value> {
    sqlx::query_scalar(
        "SELECT payload FROM events WHERE payload->>'recording_id' = $1 AND type = $2 ORDER BY id",
    )
    .bind(recording)
    .bind(kind)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Waits until `kind` has been emitted `count` times about `recording`.
pub(crate) async fn wait_for_events(
    pool: &PgPool,
    recording: &str,
    kind: &str,
    count: usize,
) -> Vec<Value> {
    let found = wait::try_until(Duration::from_secs(60), || async {
        let found = events(pool, recording, kind).await;
        (found.len() >= count).then_some(found)
    })
    .await;
    found.unwrap_or_else(|| panic!("no {count} {kind} events for {recording}"))
}

pub(crate) fn uuid(v: &Value) -> Uuid {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a UUID, not {v}"))
}
