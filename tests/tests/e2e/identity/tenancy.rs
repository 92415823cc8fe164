//! Tenancy: every ID route is checked across orgs, and row-level security holds on its own.

use std::collections::BTreeMap;

use mediadocs_settings::DatabaseSettings;
use mediadocs_store::{connect, tenancy};
use mediadocs_tests::{TestApp, TestContext};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, PgPool};
use uuid::Uuid;

/// Tables holding an `org_id`: the tenant tables.
async fn tenant_tables(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.columns
         WHERE table_schema = 'public' AND column_name = 'org_id' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Every row of `org` in every tenant table (read as the superuser, past RLS).
async fn snapshot(pool: &PgPool, org: Uuid) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for table in tenant_tables(pool).await {
        let rows: Value = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)::text), '[]') FROM {table} t WHERE org_id = $1"
        )))
        .bind(org)
        .fetch_one(pool)
        .await
        .unwrap();
        out.insert(table, rows);
    }
    out
}

/// Org A's resources, one per ID route. A route added later with an ID in its path fails the
/// matrix below until it gets a fixture here.
struct OrgA {
    member: Uuid,
    invite: Uuid,
    api_key: Uuid,
    recording: Uuid,
    conversation: Uuid,
    document: Uuid,
    template: Uuid,
}

impl OrgA {
    fn fill(&self, path: &str) -> Option<String> {
        let id = match path {
            "/api/org/members/{user_id}" => self.member,
            "/api/org/invites/{id}" => self.invite,
            "/api/org/api-keys/{id}" => self.api_key,
            "/api/conversations/{id}" => self.conversation,
            p if p.starts_with("/api/recordings/{id}") => self.recording,
            p if p.starts_with("/api/documents/{id}") => self.document,
            "/api/templates/{id}" => self.template,
            _ => return None,
        };
        let param = &path[path.find('{')?..=path.find('}')?];
        // A version number is only meaningful under its document: version 1 exists.
        Some(path.replace(param, &id.to_string()).replace("{n}", "1"))
    }
}

/// A body that passes validation, so the request reaches the ownership check.
fn valid_body(method: &str, path: &str) -> Option<Value> {
    match (method, path) {
        ("patch", "/api/org/members/{user_id}") => Some(json!({"role": "member"})),
        ("patch", "/api/recordings/{id}") => Some(json!({"title": "stolen"})),
        ("post", "/api/recordings/{id}/upload/parts") => {
            Some(json!({"parts": [{"part_number": 1}]}))
        }
        ("post", "/api/recordings/{id}/upload/complete") => {
            Some(json!({"parts": [{"part_number": 1, "etag": "x"}]}))
        }
        ("patch", "/api/recordings/{id}/transcript/speakers") => Some(json!({"A": "Mallory"})),
        ("put", "/api/documents/{id}") => Some(json!({"markdown": "# Stolen"})),
        ("patch", "/api/templates/{id}") => Some(json!({"name": "stolen"})),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_id_route_answers_404_across_orgs_and_changes_nothing() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let a = app.register("owner-a@example.com").await;
    let b = app.register("owner-b@example.com").await;
    let member = super::members::invite_and_join(&app, &a, "member-a@example.com", "member").await;
    let invite: Value = app
        .authed(Method::POST, "/api/org/invites", a.token())
        .json(&json!({"email": "pending-a@example.com", "role": "member"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key: Value = app
        .authed(Method::POST, "/api/org/api-keys", a.token())
        .json(&json!({"name": "a's key", "role": "member"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let recording: Value = app
        .authed(Method::POST, "/api/recordings", a.token())
        .json(&json!({"filename": "a.webm", "content_type": "video/webm", "size_bytes": 1000}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // With nothing indexed, the answer says so without calling a model, and the
    // conversation is kept all the same.
    let answer: Value = app
        .authed(Method::POST, "/api/chat", a.token())
        .header("accept", "application/json")
        .json(&json!({"question": "What did we decide?"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let recording_id: Uuid = recording["recording"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let document =
        mediadocs_tests::fixtures::document(&ctx.owner_pool, a.org_id(), recording_id).await;
    let template: Value = app
        .authed(Method::POST, "/api/templates", a.token())
        .json(&json!({"name": "A's template", "sections": ["Risks"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fixtures = OrgA {
        document,
        template: template["id"].as_str().unwrap().parse().unwrap(),
        conversation: answer["conversation_id"]
            .as_str()
            .unwrap_or_else(|| panic!("a conversation: {answer}"))
            .parse()
            .unwrap(),
        recording: recording["recording"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
        member: member.user_id,
        invite: invite["id"].as_str().unwrap().parse().unwrap(),
        api_key: key["id"].as_str().unwrap().parse().unwrap(),
    };

    let (_, spec) = mediadocs_api::openapi::routes(true);
    let spec = serde_json::to_value(&spec).unwrap();
    let before = snapshot(&ctx.owner_pool, a.org_id()).await;
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        if !path.contains('{') {
            continue;
        }
        // Provider callbacks carry no bearer token: a job token scopes them to one
        // recording instead (tested in providers::webhooks).
        if path.starts_with("/api/webhooks/") {
            continue;
        }
        let url = fixtures.fill(path).unwrap_or_else(|| {
            panic!("{path} takes an ID but has no cross-org fixture: add one to OrgA")
        });
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let mut request = app.authed(method.to_uppercase().parse().unwrap(), &url, b.token());
            if let Some(body) = valid_body(method, path) {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 404, "{method} {path} as org B's owner");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "the matrix found only {checked} routes");
    assert_eq!(
        snapshot(&ctx.owner_pool, a.org_id()).await,
        before,
        "org A's rows are unchanged"
    );
}

/// Rows every org reads: the built-in templates (no org) and nothing else.
async fn shared_rows(pool: &PgPool, table: &str) -> i64 {
    if table != "templates" {
        return 0;
    }
    let built_in: i64 = sqlx::query_scalar("SELECT count(*) FROM templates WHERE org_id IS NULL")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(built_in, 6, "the six built-in templates");
    built_in
}

#[tokio::test(flavor = "multi_thread")]
async fn row_level_security_holds_for_the_application_role() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let a = app.register("rls-a@example.com").await;
    let b = app.register("rls-b@example.com").await;
    for owner in [&a, &b] {
        app.authed(Method::POST, "/api/org/api-keys", owner.token())
            .json(&json!({"name": "k", "role": "member"}))
            .send()
            .await
            .unwrap();
        app.authed(Method::POST, "/api/org/invites", owner.token())
            .json(&json!({"email": "someone@example.com", "role": "member"}))
            .send()
            .await
            .unwrap();
    }

    // The role itself: no superuser, no BYPASSRLS, owns nothing.
    let (superuser, bypass): (bool, bool) = sqlx::query_as(
        "SELECT bool_or(r.rolsuper), bool_or(r.rolbypassrls) FROM pg_roles r
         WHERE pg_has_role(current_user, r.oid, 'MEMBER')",
    )
    .fetch_one(&ctx.pool)
    .await
    .unwrap();
    assert!(
        !superuser && !bypass,
        "the application role must not bypass RLS"
    );
    let owned: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tableowner = current_user")
            .fetch_one(&ctx.pool)
            .await
            .unwrap();
    assert_eq!(owned, 0);

    let mut tables = tenant_tables(&ctx.owner_pool).await;
    tables.push("orgs".into());
    for table in &tables {
        // Not FORCEd: the owner (the migration role, never the application) must pass RLS
        // so that the SECURITY DEFINER lookups work; see the transcription migration.
        let enabled: bool =
            sqlx::query_scalar("SELECT relrowsecurity FROM pg_class WHERE oid = $1::regclass")
                .bind(table)
                .fetch_one(&ctx.owner_pool)
                .await
                .unwrap();
        assert!(enabled, "{table} must have ROW LEVEL SECURITY");

        let unscoped: i64 =
            sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&ctx.pool)
                .await
                .unwrap();
        assert_eq!(
            unscoped,
            shared_rows(&ctx.owner_pool, table).await,
            "{table} with no org set"
        );

        let column = if table == "orgs" { "id" } else { "org_id" };
        let mut tx = tenancy::begin(&ctx.pool, Some(a.org_id()), None)
            .await
            .unwrap();
        let (mine, others): (i64, i64) = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT count(*) FILTER (WHERE {column} = $1), count(*) FILTER (WHERE {column} <> $1) FROM {table}"
        )))
        .bind(a.org_id())
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            others, 0,
            "{table} scoped to org A shows another org's rows"
        );
        if [
            "orgs",
            "memberships",
            "invites",
            "api_keys",
            "session_families",
        ]
        .contains(&table.as_str())
        {
            assert!(mine > 0, "{table}: org A's own rows are visible");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_context_never_leaks_between_pooled_connections() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let a = app.register("leak@example.com").await;
    // One connection, so the second use is certainly the same connection.
    let pool = connect::postgres(&DatabaseSettings {
        max_connections: 1,
        ..ctx.database_settings()
    })
    .unwrap();

    let mut tx = tenancy::begin(&pool, Some(a.org_id()), Some(a.user_id()))
        .await
        .unwrap();
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM memberships")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(seen, 1);
    tx.commit().await.unwrap();

    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM memberships")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(after, 0, "the org setting ended with its transaction");
    let setting: Option<String> =
        sqlx::query_scalar("SELECT nullif(current_setting('app.org_id', true), '')")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(setting, None);

    // A rolled-back transaction leaves nothing behind either.
    let mut tx = tenancy::begin(&pool, Some(a.org_id()), None).await.unwrap();
    sqlx::query("SELECT 1").execute(&mut *tx).await.unwrap();
    tx.rollback().await.unwrap();
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM orgs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(after, 0);
}
