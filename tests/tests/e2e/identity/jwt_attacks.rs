//! Forged, expired, misdirected and orphaned access tokens are all refused with 401.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mediadocs_tests::{TestApp, TestContext, context::TEST_JWT_SECRET};
use reqwest::Method;
use serde_json::{Value, json};

fn sign(claims: &Value, kid: &str, secret: &[u8]) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

/// The claims a real token for `session` carries, read back out of it.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_expired_and_misdirected_tokens_are_refused() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let carol = app.register("carol@example.com").await;
    let real = claims_of(carol.token());
    let now = chrono::Utc::now().timestamp();

    let with = |patch: Value| {
        let mut c = real.clone();
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"test-1"}"#);
    let none_payload = URL_SAFE_NO_PAD.encode(real.to_string());

    let attacks = [
        ("alg none", format!("{none_header}.{none_payload}.")),
        (
            "wrong key",
            sign(&real, "test-1", b"some-other-secret-of-32-bytes!!!"),
        ),
        ("unknown kid", sign(&real, "nobody", TEST_JWT_SECRET)),
        ("no kid", {
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &real,
                &EncodingKey::from_secret(TEST_JWT_SECRET),
            )
            .unwrap()
        }),
        (
            "expired",
            sign(
                &with(json!({"exp": now - 60, "iat": now - 1000})),
                "test-1",
                TEST_JWT_SECRET,
            ),
        ),
        (
            "wrong aud",
            sign(
                &with(json!({"aud": "someone-else"})),
                "test-1",
                TEST_JWT_SECRET,
            ),
        ),
        (
            "wrong iss",
            sign(&with(json!({"iss": "evil"})), "test-1", TEST_JWT_SECRET),
        ),
        ("malformed", "not.a.jwt".to_owned()),
        ("garbage", "Zm9v".to_owned()),
    ];
    for (name, token) in attacks {
        let r = app
            .authed(Method::GET, "/api/me", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{name} must be refused");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{name}"
        );
    }
    let no_header = app.http.get(app.url("/api/me")).send().await.unwrap();
    assert_eq!(no_header.status(), 401);
    assert_eq!(no_header.headers()["www-authenticate"], "Bearer");

    // Control: the same claims, correctly signed, by the current or the previous key.
    let ok = app
        .authed(
            Method::GET,
            "/api/me",
            &sign(&real, "test-1", TEST_JWT_SECRET),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let rotated = sign(&real, "test-0", b"an-older-key-that-still-verifies!!");
    let ok = app
        .authed(Method::GET, "/api/me", &rotated)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ok.status(),
        200,
        "a token from the previous key verifies until that key is dropped"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_members_token_stops_working_at_once() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let owner = app.register("owner@example.com").await;
    let member =
        super::members::invite_and_join(&app, &owner, "member@example.com", "member").await;
    let me = app
        .authed(Method::GET, "/api/me", &member.token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    let removed = app
        .authed(
            Method::DELETE,
            &format!("/api/org/members/{}", member.user_id),
            owner.token(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);

    let me = app
        .authed(Method::GET, "/api/me", &member.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        401,
        "the token is still unexpired, but the membership is gone"
    );
    let refreshed = app
        .post_json(
            "/api/auth/refresh",
            &json!({"refresh_token": member.refresh_token}),
        )
        .await;
    assert_eq!(refreshed.status(), 401);
}
