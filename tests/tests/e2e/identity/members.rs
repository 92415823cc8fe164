//! Roles, members, invites and API keys.

use mediadocs_tests::{TestApp, TestContext, app::Account};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

pub struct Joined {
    pub user_id: Uuid,
    pub token: String,
    pub refresh_token: String,
}

/// `admin` invites `email` with `role`; the invitee accepts (creating an account if the email
/// has none, with the password `TestApp::register` would have used).
pub async fn invite_and_join(app: &TestApp, admin: &Account, email: &str, role: &str) -> Joined {
    let invite: Value = app
        .authed(Method::POST, "/api/org/invites", admin.token())
        .json(&json!({"email": email, "role": role}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = invite["token"]
        .as_str()
        .unwrap_or_else(|| panic!("an invite token in {invite}"));
    let accepted = app
        .post_json(
            "/api/invites/accept",
            &json!({"token": token, "password": format!("pw-{email}-long-enough")}),
        )
        .await;
    assert_eq!(accepted.status(), 200);
    let session: Value = accepted.json().await.unwrap();
    assert_eq!(
        session["org_id"].as_str().unwrap(),
        admin.org_id().to_string()
    );
    Joined {
        user_id: session["user_id"].as_str().unwrap().parse().unwrap(),
        token: session["access_token"].as_str().unwrap().into(),
        refresh_token: session["refresh_token"].as_str().unwrap().into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn members_cannot_manage_the_org_and_admins_can() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let owner = app.register("ida@example.com").await;
    let member = invite_and_join(&app, &owner, "jon@example.com", "member").await;
    let admin = invite_and_join(&app, &owner, "kim@example.com", "admin").await;
    let target = invite_and_join(&app, &owner, "lou@example.com", "member").await;

    let calls = |token: String| {
        let app = &app;
        let target = target.user_id;
        async move {
            let invite = app
                .authed(Method::POST, "/api/org/invites", &token)
                .json(&json!({"email": "new@example.com", "role": "member"}))
                .send()
                .await
                .unwrap()
                .status();
            let list = app
                .authed(Method::GET, "/api/org/members", &token)
                .send()
                .await
                .unwrap()
                .status();
            let promote = app
                .authed(Method::PATCH, &format!("/api/org/members/{target}"), &token)
                .json(&json!({"role": "admin"}))
                .send()
                .await
                .unwrap()
                .status();
            let remove = app
                .authed(
                    Method::DELETE,
                    &format!("/api/org/members/{target}"),
                    &token,
                )
                .send()
                .await
                .unwrap()
                .status();
            [
                invite.as_u16(),
                list.as_u16(),
                promote.as_u16(),
                remove.as_u16(),
            ]
        }
    };
    assert_eq!(calls(member.token.clone()).await, [403, 403, 403, 403]);
    assert_eq!(calls(admin.token.clone()).await, [201, 200, 200, 204]);

    let members: Value = app
        .authed(Method::GET, "/api/org/members", owner.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let emails: Vec<&str> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["ida@example.com", "jon@example.com", "kim@example.com"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_owner_can_never_be_demoted_or_removed() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let owner = app.register("max@example.com").await;
    let admin = invite_and_join(&app, &owner, "ned@example.com", "admin").await;
    let me = owner.user_id();

    let demote = app
        .authed(
            Method::PATCH,
            &format!("/api/org/members/{me}"),
            owner.token(),
        )
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(demote.status(), 409);
    let remove = app
        .authed(
            Method::DELETE,
            &format!("/api/org/members/{me}"),
            owner.token(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(remove.status(), 409);
    let by_admin = app
        .authed(
            Method::DELETE,
            &format!("/api/org/members/{me}"),
            &admin.token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(by_admin.status(), 403, "an admin cannot touch an owner");
    let promote_self = app
        .authed(
            Method::PATCH,
            &format!("/api/org/members/{}", admin.user_id),
            &admin.token,
        )
        .json(&json!({"role": "owner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(promote_self.status(), 403, "only owners grant ownership");

    // With a second owner, the first may step down.
    let promote = app
        .authed(
            Method::PATCH,
            &format!("/api/org/members/{}", admin.user_id),
            owner.token(),
        )
        .json(&json!({"role": "owner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(promote.status(), 200);
    let step_down = app
        .authed(
            Method::PATCH,
            &format!("/api/org/members/{me}"),
            owner.token(),
        )
        .json(&json!({"role": "member"}))
        .send()
        .await
        .unwrap();
    assert_eq!(step_down.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn invites_are_single_use_and_expire() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let owner = app.register("oli@example.com").await;
    let create = |email: &'static str| {
        app.authed(Method::POST, "/api/org/invites", owner.token())
            .json(&json!({"email": email, "role": "member"}))
            .send()
    };
    let invite: Value = create("pat@example.com")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = invite["token"].as_str().unwrap();
    let accept = |password: &'static str| {
        app.post_json(
            "/api/invites/accept",
            &json!({"token": token, "password": password}),
        )
    };
    assert_eq!(
        accept("short").await.status(),
        422,
        "a new account needs a real password"
    );
    assert_eq!(accept("a-fine-password").await.status(), 200);
    assert_eq!(accept("a-fine-password").await.status(), 409, "single use");

    let expiring: Value = create("quin@example.com")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    sqlx::query("UPDATE invites SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(expiring["id"].as_str().unwrap().parse::<Uuid>().unwrap())
        .execute(&ctx.owner_pool)
        .await
        .unwrap();
    let expired = app
        .post_json(
            "/api/invites/accept",
            &json!({"token": expiring["token"], "password": "a-fine-password"}),
        )
        .await;
    assert_eq!(expired.status(), 410);

    let unknown = app
        .post_json(
            "/api/invites/accept",
            &json!({"token": "mdi_nope", "password": "a-fine-password"}),
        )
        .await;
    assert_eq!(unknown.status(), 404);
    let owner_invite = app
        .authed(Method::POST, "/api/org/invites", owner.token())
        .json(&json!({"email": "x@example.com", "role": "owner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(owner_invite.status(), 422);

    // An existing account must prove it is theirs.
    let rex = app.register("rex@example.com").await;
    let invite: Value = create("rex@example.com")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let wrong = app
        .post_json(
            "/api/invites/accept",
            &json!({"token": invite["token"], "password": "not-rexs-password"}),
        )
        .await;
    assert_eq!(wrong.status(), 401);
    let right = app
        .post_json(
            "/api/invites/accept",
            &json!({"token": invite["token"], "password": rex.password}),
        )
        .await;
    assert_eq!(right.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn api_keys_authenticate_until_revoked_and_are_stored_hashed() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let owner = app.register("sam@example.com").await;
    let created = app
        .authed(Method::POST, "/api/org/api-keys", owner.token())
        .json(&json!({"name": "recording app", "role": "member"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("mdk_") && key.starts_with(created["prefix"].as_str().unwrap()));

    let me: Value = app
        .authed(Method::GET, "/api/me", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["org"]["id"].as_str().unwrap(),
        owner.org_id().to_string()
    );
    assert_eq!(me["role"], "member");
    assert!(me["user"].is_null());
    let as_member = app
        .authed(Method::GET, "/api/org/members", key)
        .send()
        .await
        .unwrap();
    assert_eq!(as_member.status(), 403, "the key's role applies");

    let listed: Value = app
        .authed(Method::GET, "/api/org/api-keys", owner.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !listed.to_string().contains(key),
        "the key is shown once only"
    );
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM api_keys WHERE key_hash = sha256($1::bytea)")
            .bind(key.as_bytes())
            .fetch_one(&ctx.owner_pool)
            .await
            .unwrap();
    assert_eq!(stored, 1, "stored as its SHA-256");

    let id = created["id"].as_str().unwrap();
    let revoked = app
        .authed(
            Method::DELETE,
            &format!("/api/org/api-keys/{id}"),
            owner.token(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    assert_eq!(
        app.authed(Method::GET, "/api/me", key)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let empty_name = app
        .authed(Method::POST, "/api/org/api-keys", owner.token())
        .json(&json!({"name": "  ", "role": "member"}))
        .send()
        .await
        .unwrap();
    assert_eq!(empty_name.status(), 422);
}
