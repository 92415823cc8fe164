//! Identity benchmarks: login latency (argon2 dominates it), JWT verification per token, and
//! authenticated `GET /api/me` throughput at a fixed concurrency, against the real API
//! in-process and a harness-started PostgreSQL.
//!
//!     cargo bench -p mediadocs-tests --bench identity
//!
//! Knobs: BENCH_RUNS (5), BENCH_LOGINS (20 per run), BENCH_ME_SECS (5 per run),
//! BENCH_CONCURRENCY (32).

use std::{
    num::NonZeroU32,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::{StreamExt, stream};
use mediadocs_api::auth::{Role, jwt::JwtKeys};
use mediadocs_tests::{
    TestApp, TestContext,
    stats::{Spread, percentile},
};
use serde_json::json;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn jwt_verify_ns(iterations: u32) -> f64 {
    let keys = JwtKeys::new(
        &[("k1".into(), b"0123456789abcdef0123456789abcdef".to_vec())],
        "mediadocs",
        "mediadocs-api",
        Duration::from_secs(900),
    );
    let token = keys
        .issue(
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7(),
            Role::Admin,
            uuid::Uuid::now_v7(),
        )
        .unwrap();
    let started = Instant::now();
    for _ in 0..iterations {
        assert!(std::hint::black_box(keys.verify(std::hint::black_box(&token))).is_some());
    }
    started.elapsed().as_nanos() as f64 / f64::from(iterations)
}

async fn login_ms(app: &TestApp, email: &str, password: &str, logins: u64) -> f64 {
    let mut samples = Vec::new();
    for _ in 0..logins {
        let started = Instant::now();
        let r = app
            .post_json(
                "/api/auth/login",
                &json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(r.status(), 200);
        samples.push(started.elapsed());
    }
    percentile(&mut samples, 50.0).as_secs_f64() * 1e3
}

/// Requests per second, p50 and p99 in ms, for `GET /api/me` at `concurrency` for `secs`.
async fn me_throughput(
    app: &Arc<TestApp>,
    token: &str,
    concurrency: usize,
    secs: u64,
) -> (f64, f64, f64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let latencies: Vec<Vec<Duration>> = stream::iter(0..concurrency)
        .map(|_| {
            let app = app.clone();
            let token = token.to_owned();
            async move {
                let mut own = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let r = app
                        .authed(reqwest::Method::GET, "/api/me", &token)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                    r.bytes().await.unwrap();
                    own.push(t.elapsed());
                }
                own
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut all: Vec<Duration> = latencies.into_iter().flatten().collect();
    let rps = all.len() as f64 / elapsed;
    (
        rps,
        percentile(&mut all, 50.0).as_secs_f64() * 1e3,
        percentile(&mut all, 99.0).as_secs_f64() * 1e3,
    )
}

fn main() {
    let runs = knob("BENCH_RUNS", 5);
    let logins = knob("BENCH_LOGINS", 20);
    let me_secs = knob("BENCH_ME_SECS", 5);
    let concurrency = knob("BENCH_CONCURRENCY", 32) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ctx = TestContext::new().await;
        let mut settings = ctx.api_settings();
        settings.auth.login_per_account = NonZeroU32::MAX;
        settings.auth.login_per_ip = NonZeroU32::MAX;
        settings.database.max_connections = 20;
        let pool = mediadocs_store::connect::postgres(&settings.database).unwrap();
        let app = Arc::new(TestApp::spawn_with(&ctx, settings, pool).await);
        let account = app.register("bench@example.com").await;

        let (mut login, mut verify, mut rps, mut p50, mut p99) = (vec![], vec![], vec![], vec![], vec![]);
        for r in 0..runs {
            login.push(login_ms(&app, &account.email, &account.password, logins).await);
            verify.push(jwt_verify_ns(20_000) / 1e3);
            let (a, b, c) = me_throughput(&app, account.token(), concurrency, me_secs).await;
            rps.push(a);
            p50.push(b);
            p99.push(c);
            eprintln!("  run {r}: login {:.1} ms, verify {:.2} µs, /api/me {a:.0} req/s p50 {b:.2} ms p99 {c:.2} ms", login[r as usize], verify[r as usize]);
        }
        println!(
            "\nidentity: {runs} runs, {} build, 2 cores shared by client, API and PostgreSQL",
            if cfg!(debug_assertions) { "debug" } else { "release" }
        );
        println!("  login median latency (ms, {logins} sequential logins/run)  {}", Spread::of(&login));
        println!("  JWT verification per token (µs)                       {}", Spread::of(&verify));
        println!("  GET /api/me throughput (req/s, {concurrency} concurrent)          {}", Spread::of(&rps));
        println!("  GET /api/me p50 (ms)                                   {}", Spread::of(&p50));
        println!("  GET /api/me p99 (ms)                                   {}", Spread::of(&p99));
    });
}
