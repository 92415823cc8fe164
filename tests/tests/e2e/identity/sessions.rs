//! Refresh-token rotation with reuse detection, races, logout and switching orgs.

use mediadocs_tests::{TestApp, TestContext};
use reqwest::Method;
use serde_json::{Value, json};

async fn refresh(app: &TestApp, token: &str) -> (u16, Value) {
    let r = app
        .post_json("/api/auth/refresh", &json!({"refresh_token": token}))
        .await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn reusing_a_refresh_token_revokes_the_whole_family() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let dave = app.register("dave@example.com").await;
    let first = dave.session["refresh_token"].as_str().unwrap().to_owned();

    let (status, second) = refresh(&app, &first).await;
    assert_eq!(status, 200);
    let second_refresh = second["refresh_token"].as_str().unwrap().to_owned();
    let second_access = second["access_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first, "rotated on every use");
    let me = app
        .authed(Method::GET, "/api/me", &second_access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    // The stolen first token is replayed: everything from that login dies.
    assert_eq!(refresh(&app, &first).await.0, 401);
    assert_eq!(
        refresh(&app, &second_refresh).await.0,
        401,
        "the newest token is revoked too"
    );
    let me = app
        .authed(Method::GET, "/api/me", &second_access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401, "and so are the family's access tokens");

    // A fresh login is unaffected.
    let login = app
        .post_json(
            "/api/auth/login",
            &json!({"email": dave.email, "password": dave.password}),
        )
        .await;
    assert_eq!(login.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_refreshes_with_one_token_are_treated_as_theft() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let erin = app.register("erin@example.com").await;
    let token = erin.session["refresh_token"].as_str().unwrap();

    let ((a, body_a), (b, body_b)) = tokio::join!(refresh(&app, token), refresh(&app, token));
    let mut statuses = [a, b];
    statuses.sort();
    assert_eq!(statuses, [200, 401], "exactly one wins the race");
    let winner = if a == 200 { body_a } else { body_b };
    let next = winner["refresh_token"].as_str().unwrap();
    assert_eq!(
        refresh(&app, next).await.0,
        401,
        "the loser's reuse revoked the family"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_revokes_the_current_family_only() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let fay = app.register("fay@example.com").await;
    let other_login: Value = app
        .post_json(
            "/api/auth/login",
            &json!({"email": fay.email, "password": fay.password}),
        )
        .await
        .json()
        .await
        .unwrap();

    let out = app
        .authed(Method::POST, "/api/auth/logout", fay.token())
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert_eq!(
        app.authed(Method::GET, "/api/me", fay.token())
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        refresh(&app, fay.session["refresh_token"].as_str().unwrap())
            .await
            .0,
        401
    );

    let other = other_login["access_token"].as_str().unwrap();
    assert_eq!(
        app.authed(Method::GET, "/api/me", other)
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "another login lives on"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn switching_orgs_issues_tokens_for_an_org_the_user_belongs_to() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let gus = app.register("gus@example.com").await;
    let hal = app.register("hal@example.com").await;
    // Hal joins Gus's org as a member, with his existing account.
    let joined = super::members::invite_and_join(&app, &gus, &hal.email, "member").await;
    assert_eq!(joined.user_id, hal.user_id());

    let switched = app
        .authed(Method::POST, "/api/auth/switch-org", hal.token())
        .json(&json!({"org_id": gus.org_id()}))
        .send()
        .await
        .unwrap();
    assert_eq!(switched.status(), 200);
    let session: Value = switched.json().await.unwrap();
    let me: Value = app
        .authed(
            Method::GET,
            "/api/me",
            session["access_token"].as_str().unwrap(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["org"]["id"].as_str().unwrap(), gus.org_id().to_string());
    assert_eq!(me["role"], "member");

    let orgs: Value = app
        .authed(Method::GET, "/api/orgs?limit=1", hal.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orgs["items"].as_array().unwrap().len(), 1);
    let cursor = orgs["next_cursor"].as_str().expect("a second page");
    let page2: Value = app
        .authed(
            Method::GET,
            &format!("/api/orgs?limit=1&cursor={cursor}"),
            hal.token(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_ne!(page2["items"][0]["id"], orgs["items"][0]["id"]);

    let stranger = app
        .authed(Method::POST, "/api/auth/switch-org", hal.token())
        .json(&json!({"org_id": uuid::Uuid::new_v4()}))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 404);
    let bad_limit = app
        .authed(Method::GET, "/api/orgs?limit=1000", hal.token())
        .send()
        .await
        .unwrap();
    assert_eq!(bad_limit.status(), 422);
}
