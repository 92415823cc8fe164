//! Registration, login, passwords and bad input.

use std::time::Instant;

use mediadocs_tests::{TestApp, TestContext, stats::percentile};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn register_then_me_and_orgs_show_the_owner() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let alice = app.register("alice@example.com").await;
    assert_eq!(alice.session["role"], "owner");
    assert_eq!(alice.session["token_type"], "Bearer");
    assert!(
        alice.session["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("mdr_")
    );

    let me: Value = app
        .authed(Method::GET, "/api/me", alice.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["email"], "alice@example.com");
    assert_eq!(me["org"]["id"], alice.session["org_id"]);
    assert_eq!(me["role"], "owner");

    let orgs: Value = app
        .authed(Method::GET, "/api/orgs", alice.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orgs["items"].as_array().unwrap().len(), 1);
    assert!(orgs["next_cursor"].is_null());

    let login = app
        .post_json(
            "/api/auth/login",
            &json!({"email": "ALICE@example.com ", "password": alice.password}),
        )
        .await;
    assert_eq!(login.status(), 200, "emails are case-insensitive");
}

#[tokio::test(flavor = "multi_thread")]
async fn passwords_are_argon2id_and_failures_look_alike() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let bob = app.register("bob@example.com").await;

    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE email = 'bob@example.com'")
            .fetch_one(&ctx.owner_pool)
            .await
            .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "stored {hash}"
    );
    assert!(!hash.contains(&bob.password));

    // Four tries each: the per-account limit allows five a minute.
    let mut timings = [Vec::new(), Vec::new()];
    let mut bodies = Vec::new();
    for attempt in 0..4 {
        for (i, email) in ["bob@example.com", "nobody@example.com"]
            .into_iter()
            .enumerate()
        {
            let started = Instant::now();
            let r = app
                .post_json(
                    "/api/auth/login",
                    &json!({"email": email, "password": format!("wrong-password-{attempt}")}),
                )
                .await;
            timings[i].push(started.elapsed());
            assert_eq!(r.status(), 401);
            bodies.push(r.text().await.unwrap());
        }
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "identical bodies: {bodies:?}"
    );
    let wrong = percentile(&mut timings[0], 50.0).as_secs_f64();
    let unknown = percentile(&mut timings[1], 50.0).as_secs_f64();
    let ratio = wrong / unknown;
    assert!(
        (0.5..2.0).contains(&ratio),
        "wrong password {wrong:.3}s vs unknown email {unknown:.3}s"
    );
    assert!(
        unknown > 0.005,
        "an unknown email must still cost an argon2 verification"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_registrations_get_clear_problems() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    app.register("taken@example.com").await;

    let cases: &[(Value, u16, &str)] = &[
        (
            json!({"email": "not-an-email", "password": "long-enough-pw"}),
            422,
            "email",
        ),
        (
            json!({"email": "short@example.com", "password": "short"}),
            422,
            "password",
        ),
        (
            json!({"email": "taken@example.com", "password": "long-enough-pw"}),
            409,
            "",
        ),
        (
            json!({"email": "x@example.com", "password": "long-enough-pw", "admin": true}),
            422,
            "",
        ),
        (
            json!({"email": "ctl@example.com", "password": "long-enough-pw", "name": "a\u{7}b"}),
            422,
            "name",
        ),
    ];
    for (body, status, field) in cases {
        let r = app.post_json("/api/auth/register", body).await;
        assert_eq!(r.status().as_u16(), *status, "{body}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let problem: Value = r.json().await.unwrap();
        if !field.is_empty() {
            assert!(
                problem["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["field"] == *field),
                "{body} should name {field}: {problem}"
            );
        }
    }
    // Both invalid fields at once are both reported.
    let both: Value = app
        .post_json(
            "/api/auth/register",
            &json!({"email": "bad", "password": "short"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(both["errors"].as_array().unwrap().len(), 2);

    let wrong_type = app
        .http
        .post(app.url("/api/auth/register"))
        .header("content-type", "text/plain")
        .body(r#"{"email":"a@example.com","password":"long-enough-pw"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 415);
    assert_eq!(
        wrong_type.headers()["content-type"],
        "application/problem+json"
    );

    let malformed = app
        .http
        .post(app.url("/api/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);

    let huge = "x".repeat(mediadocs_api::BODY_LIMIT + 1);
    let too_big = app
        .post_json(
            "/api/auth/register",
            &json!({"email": huge, "password": huge}),
        )
        .await;
    assert_eq!(too_big.status(), 413);
    assert_eq!(
        too_big.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn login_attempts_are_limited_per_account_without_locking_out_others() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let victim = app.register("victim@example.com").await;
    let other = app.register("other@example.com").await;

    let attempt = |email: &str, password: &str| {
        app.post_json(
            "/api/auth/login",
            &json!({"email": email, "password": password}),
        )
    };
    for _ in 0..5 {
        assert_eq!(
            attempt(&victim.email, "wrong-password!").await.status(),
            401
        );
    }
    let limited = attempt(&victim.email, &victim.password).await;
    assert_eq!(
        limited.status(),
        429,
        "the sixth attempt in a minute is refused, even a right one"
    );
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(
        limited.headers()["content-type"],
        "application/problem+json"
    );

    assert_eq!(
        attempt(&other.email, &other.password).await.status(),
        200,
        "others are unaffected"
    );
}
