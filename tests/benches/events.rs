//! Live event feed benchmarks against the real `mediadocs-api` binary (a child process, so
//! its memory is its own) on the harness's PostgreSQL:
//!
//!     ulimit -n 20000; cargo bench -p mediadocs-tests --bench events
//!
//! 1. Fan-out latency with BENCH_CLIENTS (1,000) WebSocket clients of one org on one
//!    instance: from just before each event's COMMIT (in this process) to each client
//!    receiving it; p50 and p99 over every (event, client) pair. Target: p99 < 50 ms.
//! 2. Memory per idle connection: the API's resident set (VmRSS) with the clients open,
//!    minus before any was opened, divided by their number.
//! 3. Capacity: connections are added in steps (BENCH_STEPS) and a latency round is run at
//!    each, until p99 exceeds 100 ms (or the last step): the most connections held with p99
//!    within 100 ms. Everything shares the machine's two cores: the API, PostgreSQL, and this
//!    process with every client.
//!
//! Events are written at BENCH_RATE per second (20), BENCH_EVENTS per run (200; 40 per
//! capacity step), BENCH_RUNS runs (3).

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::{StreamExt, stream};
use mediadocs_tests::{
    TestContext,
    api_process::ApiProcess,
    feed,
    stats::{Spread, percentile},
};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// When each client received each event: `(seq, at)`, per client.
type Arrivals = Arc<Mutex<Vec<(u64, Instant)>>>;

struct Bench {
    api: ApiProcess,
    http: reqwest::Client,
    token: String,
    org: Uuid,
    pool: sqlx::PgPool,
    arrivals: Vec<Arrivals>,
    seq: u64,
}

impl Bench {
    /// Opens clients until `n` are connected, `concurrency` handshakes at a time.
    async fn connect_up_to(&mut self, n: usize) {
        let missing = n.saturating_sub(self.arrivals.len());
        let opened: Vec<Arrivals> = stream::iter(0..missing)
            .map(|_| self.open())
            .buffer_unordered(32)
            .collect()
            .await;
        self.arrivals.extend(opened);
    }

    async fn open(&self) -> Arrivals {
        let response = self
            .http
            .post(format!("{}/api/ws-ticket", self.api.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("POST /api/ws-ticket");
        assert_eq!(response.status(), 201, "a ticket");
        let body: Value = response.json().await.unwrap();
        let url = format!(
            "{}/ws?ticket={}",
            self.api.base.replacen("http", "ws", 1),
            body["ticket"].as_str().unwrap()
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(feed::request(&url, None))
            .await
            .expect("a WebSocket");
        // Live once the ready marker arrives; from then on, record arrivals.
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.contains("\"ready\"") => break,
                Some(Ok(_)) => {}
                other => panic!("the feed closed before ready: {other:?}"),
            }
        }
        let arrivals = Arrivals::default();
        let mine = arrivals.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = ws.next().await {
                if let Message::Text(text) = message {
                    let at = Instant::now();
                    if let Some(seq) = seq_of(&text) {
                        mine.lock().unwrap().push((seq, at));
                    }
                }
            }
        });
        arrivals
    }

    /// Writes `events` events at `rate` per second; returns p50 and p99 in ms and the
    /// share of (event, client) pairs that arrived.
    async fn round(&mut self, events: usize, rate: usize) -> (f64, f64, f64) {
        for a in &self.arrivals {
            a.lock().unwrap().clear();
        }
        let first = self.seq;
        let mut committed_at = Vec::with_capacity(events);
        let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
        for _ in 0..events {
            ticks.tick().await;
            let mut tx = mediadocs_store::tenancy::begin(&self.pool, Some(self.org), None)
                .await
                .unwrap();
            let payload = json!({ "seq": self.seq });
            mediadocs_store::events::emit(&mut tx, self.org, None, "bench.tick", payload)
                .await
                .unwrap();
            let at = Instant::now();
            tx.commit().await.unwrap();
            committed_at.push(at);
            self.seq += 1;
        }
        let expected = events * self.arrivals.len();
        let deadline = Instant::now() + Duration::from_secs(30);
        let received = loop {
            let n: usize = self.arrivals.iter().map(|a| a.lock().unwrap().len()).sum();
            if n >= expected || Instant::now() > deadline {
                break n;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let mut latencies = Vec::with_capacity(received);
        for a in &self.arrivals {
            for &(seq, at) in a.lock().unwrap().iter() {
                if let Some(sent) = seq
                    .checked_sub(first)
                    .and_then(|i| committed_at.get(i as usize))
                {
                    latencies.push(at.saturating_duration_since(*sent));
                }
            }
        }
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        (
            ms(percentile(&mut latencies, 50.0)),
            ms(percentile(&mut latencies, 99.0)),
            received as f64 / expected as f64,
        )
    }
}

/// The `seq` of a bench event, without parsing the whole message.
fn seq_of(text: &str) -> Option<u64> {
    let rest = &text[text.find("\"seq\":")? + 6..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let clients = knob("BENCH_CLIENTS", 1000);
    let events = knob("BENCH_EVENTS", 200);
    let rate = knob("BENCH_RATE", 20);
    let runs = knob("BENCH_RUNS", 3);
    let step_events = knob("BENCH_STEP_EVENTS", 40);
    let steps: Vec<usize> = std::env::var("BENCH_STEPS")
        .unwrap_or_else(|_| "2000,4000,6000,8000,10000,12000,14000,16000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();

    let ctx = TestContext::new().await;
    let api = ApiProcess::start_with(&ctx, &[("EVENTS_CONNECTION_BUFFER", "4096")]).await;
    let http = reqwest::Client::new();
    let session: Value = http
        .post(format!("{}/api/auth/register", api.base))
        .json(&json!({"email": "bench-events@example.com", "password": "bench-events-password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut bench = Bench {
        token: session["access_token"].as_str().unwrap().to_owned(),
        org: session["org_id"].as_str().unwrap().parse().unwrap(),
        api,
        http,
        pool: ctx.pool.clone(),
        arrivals: Vec::new(),
        seq: 0,
    };
    println!("events bench: {clients} clients, {events} events/run at {rate}/s, {runs} runs");

    // A few connections and one round first, so the baseline includes the fan-out machinery
    // (the hub, the org's channel, the pools) and only the connections differ.
    bench.connect_up_to(10).await;
    bench.round(10, rate).await;
    let baseline = bench.api.rss_bytes();
    bench.connect_up_to(clients + 10).await;
    let per_connection = (bench.api.rss_bytes().saturating_sub(baseline)) as f64 / clients as f64;

    let mut p50s = Vec::new();
    let mut p99s = Vec::new();
    for _ in 0..runs {
        let (p50, p99, delivered) = bench.round(events, rate).await;
        assert!(
            delivered >= 0.999,
            "only {:.2}% delivered",
            delivered * 100.0
        );
        p50s.push(p50);
        p99s.push(p99);
    }
    let p99 = Spread::of(&p99s);
    println!(
        "fan-out latency, COMMIT → client, {} clients (ms):",
        bench.arrivals.len()
    );
    println!("  p50  {}", Spread::of(&p50s));
    println!(
        "  p99  {p99}   target < 50 ms: median at {:.2}× the target",
        p99.median / 50.0
    );
    println!(
        "memory per idle connection: {:.1} KiB (API RSS {:.1} MiB → {:.1} MiB over {clients} connections)",
        per_connection / 1024.0,
        baseline as f64 / 1048576.0,
        bench.api.rss_bytes() as f64 / 1048576.0
    );

    println!("capacity (p99 ≤ 100 ms), {step_events} events at {rate}/s per step:");
    let mut held = bench.arrivals.len();
    for step in steps {
        bench.connect_up_to(step).await;
        let (p50, p99, delivered) = bench.round(step_events, rate).await;
        println!(
            "  {:>6} connections: p50 {p50:>7.2} ms  p99 {p99:>7.2} ms  delivered {:.2}%  RSS {:.0} MiB",
            bench.arrivals.len(),
            delivered * 100.0,
            bench.api.rss_bytes() as f64 / 1048576.0
        );
        if p99 > 100.0 || delivered < 0.999 {
            break;
        }
        held = bench.arrivals.len();
    }
    println!(
        "max connections held with p99 ≤ 100 ms: {held} (on 2 cores, shared with PostgreSQL and the clients)"
    );
}
