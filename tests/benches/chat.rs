//! Chat performance, each figure against its target:
//! - time to the `sources` event of `POST /api/chat` (SSE) with the local embedder, at
//!   BENCH_PASSAGES passages in the caller's org (the evaluation set's real ones plus
//!   synthetic ones around their embeddings);
//! - streaming overhead against the OpenAI simulator with a fixed time to first token: our
//!   first `delta` (after `sources`) minus the simulator's own first token seen by a direct
//!   client, and the same per token;
//! - vector search at BENCH_VECTORS synthetic 384-dimensional passages across BENCH_ORGS orgs
//!   of uneven size: p50/p99 latency and recall@10 against exact search (index scans off),
//!   for the largest org and for one holding 1% of the rows.
//!
//! ```sh
//! scripts/lib/tools.sh install    # the model files, once
//! cargo bench -p mediadocs-tests --bench chat
//! BENCH_PART=vectors BENCH_VECTORS=1000000 cargo bench -p mediadocs-tests --bench chat
//! ```
//!
//! Knobs: BENCH_PART (all, sources, vectors), BENCH_PASSAGES (100000), BENCH_QUERIES (200),
//! BENCH_STREAM_RUNS (20), BENCH_VECTORS (1000000), BENCH_ORGS (50), BENCH_VECTOR_QUERIES
//! (200). Data is loaded with binary COPY into a table without its search indexes, which are
//! then built once; the load and build times are printed. The harness's PostgreSQL is
//! throwaway, so every run loads again.

use std::time::{Duration, Instant};

use futures::StreamExt;
use mediadocs_dev::openai::OpenAiSimulator;
use mediadocs_providers::{
    embeddings::{
        Embedder,
        local::{LocalEmbedder, LocalEmbedderSettings},
    },
    llm::LlmSettings,
};
use mediadocs_retrieval::vector;
use mediadocs_tests::{
    TestApp, TestContext,
    retrieval_eval::{self, EvalSet},
    stats::percentile,
    synthetic::{self, Clusters, Latent, Rng},
    tools::repo_root,
};
use serde_json::json;
use uuid::Uuid;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let part = std::env::var("BENCH_PART").unwrap_or_else(|_| "all".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "\nchat: {} build, {} cores",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        if part == "all" || part == "sources" {
            sources_and_streaming().await;
        }
        if part == "all" || part == "vectors" {
            vectors().await;
        }
    });
}

fn local_embedder() -> LocalEmbedder {
    LocalEmbedder::load(&LocalEmbedderSettings {
        dir: repo_root().join(".tools/models/all-MiniLM-L6-v2"),
        batch_size: 32,
        max_tokens: 256,
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

async fn sources_and_streaming() {
    let total = knob("BENCH_PASSAGES", 100_000) as usize;
    let queries = knob("BENCH_QUERIES", 200) as usize;
    let ctx = TestContext::new().await;
    let sim = OpenAiSimulator::start().await;
    let mut settings = ctx.api_settings();
    let mut llm = LlmSettings::for_base_url(sim.base_url().parse().unwrap(), "gpt-4o-mini");
    llm.max_retries = 0;
    settings.chat.llm = llm;
    settings.chat.requests_per_minute = std::num::NonZeroU32::new(1_000_000).unwrap();
    settings.chat.burst = std::num::NonZeroU32::new(1_000_000).unwrap();
    settings.chat.daily_tokens_per_org = u64::MAX / 2;
    let app = TestApp::spawn_with(&ctx, settings, ctx.pool.clone()).await;
    let who = app.register("bench@example.com").await;
    let org = who.org_id();

    let embedder = local_embedder();
    let set = EvalSet::load();
    let (_, real) = retrieval_eval::index(&ctx.owner_pool, &ctx.pool, org, &set, &embedder).await;
    let lines: Vec<String> = set
        .transcripts
        .iter()
        .flat_map(|t| t.segments.iter().map(|s| s.text.clone()))
        .collect();
    let seeds = Clusters::around(embedder.embed(&lines).await.unwrap(), 0.02);
    let load = load_org(&ctx, org, total.saturating_sub(real), &seeds).await;
    println!(
        "\ntime to `sources`: {total} passages in the org ({real} real), loaded in {:.1} s, indexes built in {:.1} s",
        load.0, load.1
    );

    let ask = |q: &str| {
        app.authed(reqwest::Method::POST, "/api/chat", who.token())
            .header("accept", "text/event-stream")
            .json(&json!({"question": q}))
    };
    sim.set(|k| k.time_to_first_token_ms = 5_000);
    let mut samples = Vec::new();
    let mut embed_only = Vec::new();
    for i in 0..queries + 5 {
        let q = &set.questions[i % set.questions.len()].text;
        let started = Instant::now();
        let response = ask(q).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let mut body = response.bytes_stream();
        let mut seen = String::new();
        while !seen.contains("event: sources") {
            seen.push_str(std::str::from_utf8(&body.next().await.unwrap().unwrap()).unwrap());
        }
        let elapsed = started.elapsed();
        drop(body);
        let started = Instant::now();
        embedder.embed(std::slice::from_ref(q)).await.unwrap();
        // The first few warm the model, the caches and the pool.
        if i >= 5 {
            samples.push(elapsed);
            embed_only.push(started.elapsed());
        }
    }
    println!(
        "  POST /api/chat to `sources`   median {:>7.1} ms   p99 {:>7.1} ms   ({queries} questions, sequential)",
        ms(percentile(&mut samples, 50.0)),
        ms(percentile(&mut samples, 99.0))
    );
    println!(
        "  of which embedding a question median {:>7.1} ms   p99 {:>7.1} ms   (in-process, same questions)",
        ms(percentile(&mut embed_only, 50.0)),
        ms(percentile(&mut embed_only, 99.0))
    );

    streaming_overhead(&app, &who, &sim, &set).await;
}

/// Loads `count` synthetic passages into `org` (100 per recording) around `clusters`.
/// Returns (load seconds, index build seconds).
async fn load_org(ctx: &TestContext, org: Uuid, count: usize, clusters: &Clusters) -> (f64, f64) {
    let mut conn = ctx.owner_pool.acquire().await.unwrap().detach();
    synthetic::drop_search_indexes(&mut conn).await.unwrap();
    let started = Instant::now();
    let recordings = synthetic::recordings(&mut conn, org, count.div_ceil(100))
        .await
        .unwrap();
    let mut rng = Rng::new(7);
    let mut i = 0;
    synthetic::copy_passages(&mut conn, |buf| {
        if i == count {
            return None;
        }
        let text = synthetic::text(&mut rng, 60);
        let embedding = clusters.sample(&mut rng);
        let row = synthetic::Row {
            org,
            recording: recordings[i / 100],
            idx: (i % 100) as i32,
            text: &text,
            embedding: &embedding,
        };
        synthetic::encode(buf, &row);
        i += 1;
        Some(())
    })
    .await
    .unwrap();
    let loaded = started.elapsed().as_secs_f64();
    let built = synthetic::build_search_indexes(&mut conn).await.unwrap();
    (loaded, built)
}

async fn streaming_overhead(
    app: &TestApp,
    who: &mediadocs_tests::app::Account,
    sim: &OpenAiSimulator,
    set: &EvalSet,
) {
    const TTFT_MS: u64 = 200;
    const INTER_MS: u64 = 10;
    const WORDS: u32 = 100;
    let runs = knob("BENCH_STREAM_RUNS", 20) as usize;
    sim.set(|k| {
        k.time_to_first_token_ms = TTFT_MS;
        k.inter_token_delay_ms = INTER_MS;
        k.reply_words = Some(WORDS);
    });
    let (mut direct_first, mut ours_first) = (Vec::new(), Vec::new());
    let (mut direct_gap, mut ours_gap) = (Vec::new(), Vec::new());
    for r in 0..runs {
        // The simulator alone: time to its first token, and between tokens.
        let started = Instant::now();
        let response = app
            .http
            .post(format!("{}/chat/completions", sim.base_url()))
            .json(&json!({"model": "gpt-4o-mini", "stream": true,
                          "messages": [{"role": "user", "content": set.questions[r % set.questions.len()].text}]}))
            .send()
            .await
            .unwrap();
        let tokens = arrivals(response, "\"content\"", started).await;
        direct_first.push(tokens[0]);
        direct_gap.push(mean_gap(&tokens));

        // Through the API: from `sources` (the LLM call starts right after it) to each delta.
        let started = Instant::now();
        let response = app
            .authed(reqwest::Method::POST, "/api/chat", who.token())
            .header("accept", "text/event-stream")
            .json(&json!({"question": set.questions[r % set.questions.len()].text}))
            .send()
            .await
            .unwrap();
        let events = arrivals(response, "event: ", started).await;
        // events: sources, deltas…, done.
        let deltas = &events[1..events.len() - 1];
        assert_eq!(deltas.len(), WORDS as usize);
        ours_first.push(deltas[0] - events[0]);
        ours_gap.push(mean_gap(deltas));
    }
    let median = |v: &mut Vec<Duration>| ms(percentile(v, 50.0));
    let (df, of) = (median(&mut direct_first), median(&mut ours_first));
    let (dg, og) = (median(&mut direct_gap), median(&mut ours_gap));
    println!(
        "\nstreaming overhead: simulator with {TTFT_MS} ms to first token, {INTER_MS} ms between tokens, {WORDS} tokens, {runs} runs (medians)"
    );
    println!("  first token: simulator alone {df:.2} ms, ours after `sources` {of:.2} ms");
    println!(
        "  overhead to first delta  {:>6.2} ms   (target < 5 ms: {:.2}x of it)",
        of - df,
        (of - df) / 5.0
    );
    println!(
        "  per token: simulator {dg:.3} ms, ours {og:.3} ms, overhead {:.3} ms",
        og - dg
    );
}

/// When each SSE frame containing `marker` arrived, from `started`.
async fn arrivals(response: reqwest::Response, marker: &str, started: Instant) -> Vec<Duration> {
    let mut body = response.bytes_stream();
    let (mut buffer, mut times) = (String::new(), Vec::new());
    while let Some(chunk) = body.next().await {
        let at = started.elapsed();
        buffer.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            if frame.contains(marker) {
                times.push(at);
            }
        }
    }
    times
}

fn mean_gap(times: &[Duration]) -> Duration {
    let n = times.len().saturating_sub(1).max(1) as u32;
    (times[times.len() - 1] - times[0]) / n
}

async fn vectors() {
    let total = knob("BENCH_VECTORS", 1_000_000) as usize;
    let orgs = knob("BENCH_ORGS", 50).max(3) as usize;
    let queries = knob("BENCH_VECTOR_QUERIES", 200) as usize;
    let ctx = TestContext::new().await;
    // The largest org holds 20% of the rows, the small one 1%, the rest share 79% unevenly.
    let rest: Vec<f64> = (0..orgs - 2)
        .map(|i| 1.0 / ((i + 1) as f64).powf(0.7))
        .collect();
    let rest_sum: f64 = rest.iter().sum();
    let mut sizes = vec![total / 5, total / 100];
    sizes.extend(
        rest.iter()
            .map(|w| (0.79 * total as f64 * w / rest_sum) as usize),
    );
    let ids: Vec<Uuid> = (0..orgs).map(|_| Uuid::now_v7()).collect();
    sqlx::query("INSERT INTO orgs (id, name) SELECT id, 'bench' FROM unnest($1::uuid[]) id")
        .bind(&ids)
        .execute(&ctx.owner_pool)
        .await
        .unwrap();

    let mut rng = Rng::new(42);
    let clusters = Latent::new(&mut rng, 1024, 32, 384);
    let mut conn = ctx.owner_pool.acquire().await.unwrap().detach();
    synthetic::drop_search_indexes(&mut conn).await.unwrap();
    let started = Instant::now();
    let mut recordings = Vec::new();
    for (org, size) in ids.iter().zip(&sizes) {
        recordings.push(
            synthetic::recordings(&mut conn, *org, size.div_ceil(1000))
                .await
                .unwrap(),
        );
    }
    let (mut org, mut i) = (0, 0);
    let mut generator = Rng::new(43);
    let rows = synthetic::copy_passages(&mut conn, |buf| {
        while org < orgs && i == sizes[org] {
            (org, i) = (org + 1, 0);
        }
        if org == orgs {
            return None;
        }
        let embedding = clusters.sample(&mut generator);
        let text = format!("synthetic passage {i}");
        let row = synthetic::Row {
            org: ids[org],
            recording: recordings[org][i / 1000],
            idx: (i % 1000) as i32,
            text: &text,
            embedding: &embedding,
        };
        synthetic::encode(buf, &row);
        i += 1;
        Some(())
    })
    .await
    .unwrap();
    let loaded = started.elapsed().as_secs_f64();
    let built = synthetic::build_search_indexes(&mut conn).await.unwrap();
    println!(
        "\nvector search: {rows} passages, 384 dimensions, {orgs} orgs (largest {}, small {}), loaded by binary COPY in {loaded:.1} s, HNSW and GIN built in {built:.1} s",
        sizes[0], sizes[1]
    );

    // The API's choice (HNSW with ef_search 100 for the large org, exact for the small
    // one), and pgvector's default ef_search of 40 through the index, for comparison.
    let strategies = [
        ("as the API searches", None),
        (
            "HNSW, ef_search 40",
            Some(vector::Strategy::Index { ef_search: 40 }),
        ),
        ("exact scan", Some(vector::Strategy::Exact)),
    ];
    for (label, org) in [("large org (20%)", ids[0]), ("small org (1%)", ids[1])] {
        let queries: Vec<Vec<f32>> = (0..queries + 10)
            .map(|_| clusters.sample(&mut rng))
            .collect();
        let mut truth = Vec::new();
        for query in &queries {
            // Index scans off: the planner must compute every distance in the org.
            let mut tx = mediadocs_store::tenancy::begin(&ctx.pool, Some(org), None)
                .await
                .unwrap();
            sqlx::query("SET LOCAL enable_indexscan = off")
                .execute(&mut *tx)
                .await
                .unwrap();
            let exact: Vec<vector::Hit> = sqlx::query_as(sqlx::AssertSqlSafe(vector::nearest_sql(
                "all-MiniLM-L6-v2",
                384,
                false,
            )))
            .bind(pgvector::Vector::from(query.clone()))
            .bind(10i64)
            .fetch_all(&mut *tx)
            .await
            .unwrap();
            tx.commit().await.unwrap();
            assert_eq!(exact.len(), 10);
            truth.push(exact);
        }
        for (how, strategy) in strategies {
            let (mut latencies, mut recall) = (Vec::new(), 0.0);
            for (q, query) in queries.iter().enumerate() {
                let mut tx = mediadocs_store::tenancy::begin(&ctx.pool, Some(org), None)
                    .await
                    .unwrap();
                let started = Instant::now();
                let found = match strategy {
                    None => vector::nearest_in(&mut tx, "all-MiniLM-L6-v2", query, 10, None).await,
                    Some(s) => {
                        vector::nearest_with(&mut tx, "all-MiniLM-L6-v2", query, 10, None, s).await
                    }
                }
                .unwrap();
                let elapsed = started.elapsed();
                tx.commit().await.unwrap();
                // The first ten warm the caches.
                if q >= 10 {
                    latencies.push(elapsed);
                    let hit = found
                        .iter()
                        .filter(|a| truth[q].iter().any(|e| e.id == a.id))
                        .count();
                    recall += hit as f64 / 10.0;
                }
            }
            let p99 = ms(percentile(&mut latencies, 99.0));
            let recall = recall / (queries.len() - 10) as f64;
            println!(
                "  {label:<16} {how:<20} p50 {:>6.2} ms  p99 {p99:>6.2} ms ({:.2}x of the 30 ms target)  recall@10 {recall:.3} (target 0.95)",
                ms(percentile(&mut latencies, 50.0)),
                p99 / 30.0
            );
        }
    }
}
