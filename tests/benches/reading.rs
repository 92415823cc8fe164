//! Reading benchmarks: `GET /api/documents/{id}` and the whole transcript of a 3-hour
//! recording (1,800 segments) as JSON and as WebVTT, p50/p99 over sequential requests, each
//! next to `GET /api/me` (the cheapest authenticated route) measured in the same run; and the
//! document's export to HTML and DOCX, time and peak RSS, next to the Markdown export (no
//! rendering), through the API and as the render functions alone.
//!
//!     cargo bench -p mediadocs-tests --bench reading
//!
//! The API runs in-process with a harness-started PostgreSQL, on the same 2 cores as the
//! client. Peak RSS is the process's high-water mark (VmHWM) after resetting it through
//! /proc/self/clear_refs, so it counts the whole process during that one call.
//! Knobs: BENCH_RUNS (5), BENCH_REQUESTS (200 per run and route).

use std::time::{Duration, Instant};

use mediadocs_providers::transcription::{Segment, Transcript};
use mediadocs_tests::{
    TestApp, TestContext, fixtures,
    stats::{Spread, percentile},
};
use reqwest::Method;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const SEGMENTS: i64 = 1_800;
const HOURS_MS: i64 = 3 * 3_600_000;

fn transcript() -> Transcript {
    let step = HOURS_MS / SEGMENTS;
    let speakers = ["A", "B", "C", "D"];
    Transcript {
        language: Some("en".into()),
        duration_ms: Some(HOURS_MS),
        segments: (0..SEGMENTS)
            .map(|i| Segment {
                start_ms: i * step,
                end_ms: i * step + step - 200,
                text: format!(
                    "Segment {i}: we walked through the rollout plan, the on-call rota and \
                     the dashboard numbers for region {} before moving on.",
                    i % 7
                ),
                speaker: Some(speakers[(i % 4) as usize].into()),
                confidence: Some(0.91),
            })
            .collect(),
    }
}

/// A long meeting's notes: every section, 400 timestamped bullets (about 27 KB).
fn markdown() -> String {
    let mut md = String::from("# Quarterly planning, three hours\n\n## Summary\n");
    md.push_str(
        "The team planned the quarter: rollout, staffing and budgets [00:00:05].\n\n## Decisions\n",
    );
    for i in 0..200 {
        let s = i * 50;
        md.push_str(&format!(
            "- **Decision {i}**: ship the _rollout_ step {i} in region {} [{}:{:02}:{:02}]\n",
            i % 7,
            s / 3600,
            s / 60 % 60,
            s % 60
        ));
    }
    md.push_str("\n## Discussion\n");
    for i in 0..200 {
        let s = 10_000 - i * 40;
        md.push_str(&format!(
            "- Discussed `metric_{i}` and its trend with the owners [{}:{:02}:{:02}]\n",
            s / 3600,
            s / 60 % 60,
            s % 60
        ));
    }
    md.push_str("\n## Key points\n- Budgets hold [1:00:00]\n\n## Action items\n- Alice: the rota [2:59:00]\n");
    md
}

fn peak_rss_reset() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// p50 and p99 (ms) of `requests` sequential GETs of `path`, each checked for 200 and read
/// to the end; and the body's size.
async fn latency(app: &TestApp, token: &str, path: &str, requests: u64) -> (f64, f64, usize) {
    let mut samples = Vec::new();
    let mut size = 0;
    for _ in 0..requests {
        let t = Instant::now();
        let r = app.authed(Method::GET, path, token).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        size = r.bytes().await.unwrap().len();
        samples.push(t.elapsed());
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (
        ms(percentile(&mut samples, 50.0)),
        ms(percentile(&mut samples, 99.0)),
        size,
    )
}

/// Time (ms) and peak RSS (MiB) of one export through the API.
async fn export(
    app: &TestApp,
    token: &str,
    document: uuid::Uuid,
    format: &str,
) -> (f64, f64, usize) {
    peak_rss_reset();
    let t = Instant::now();
    let r = app
        .authed(
            Method::GET,
            &format!("/api/documents/{document}/export?format={format}"),
            token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let size = r.bytes().await.unwrap().len();
    (t.elapsed().as_secs_f64() * 1e3, peak_rss_mib(), size)
}

fn main() {
    let runs = knob("BENCH_RUNS", 5);
    let requests = knob("BENCH_REQUESTS", 200);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ctx = TestContext::new().await;
        let app = TestApp::spawn(&ctx).await;
        let owner = app.register("reading-bench@example.com").await;
        let token = owner.token().to_owned();
        let recording =
            fixtures::recording_with_transcript(&ctx.owner_pool, owner.org_id(), "completed", &transcript()).await;
        let body = markdown();
        let document =
            fixtures::document_with(&ctx.owner_pool, owner.org_id(), recording, "Quarterly planning", &body).await;
        let transcript_json = format!("/api/recordings/{recording}/transcript?limit=2000");
        let transcript_vtt = format!("/api/recordings/{recording}/transcript?format=vtt");
        let document_path = format!("/api/documents/{document}");

        let mut fig: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
        let mut sizes = (0, 0, 0);
        for r in 0..runs {
            let (me50, me99, _) = latency(&app, &token, "/api/me", requests).await;
            let (d50, d99, dsize) = latency(&app, &token, &document_path, requests).await;
            let (t50, t99, tsize) = latency(&app, &token, &transcript_json, requests / 4).await;
            let (v50, v99, _) = latency(&app, &token, &transcript_vtt, requests / 4).await;
            let (md_ms, md_rss, _) = export(&app, &token, document, "md").await;
            let (html_ms, html_rss, hsize) = export(&app, &token, document, "html").await;
            let (docx_ms, docx_rss, xsize) = export(&app, &token, document, "docx").await;
            peak_rss_reset();
            let t = Instant::now();
            let html = mediadocs_exports::html::render(&body, |s| format!("https://app.example.com/r?t={s}"));
            let render_html = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            let docx = mediadocs_exports::docx::render("Quarterly planning", &body).unwrap();
            let render_docx = t.elapsed().as_secs_f64() * 1e3;
            std::hint::black_box((html, docx));
            sizes = (dsize, tsize, hsize.max(xsize));
            for (k, v) in [
                ("me50", me50), ("me99", me99), ("d50", d50), ("d99", d99), ("t50", t50), ("t99", t99),
                ("v50", v50), ("v99", v99), ("d/me", d50 / me50), ("t/d", t50 / d50),
                ("md_ms", md_ms), ("html_ms", html_ms), ("docx_ms", docx_ms),
                ("html/md", html_ms / md_ms), ("docx/md", docx_ms / md_ms),
                ("md_rss", md_rss), ("html_rss", html_rss), ("docx_rss", docx_rss),
                ("render_html", render_html), ("render_docx", render_docx),
            ] {
                fig.entry(k).or_default().push(v);
            }
            eprintln!("  run {r}: document p50 {d50:.2} ms, transcript p50 {t50:.2} ms, html {html_ms:.1} ms, docx {docx_ms:.1} ms");
        }
        let s = |k: &str| Spread::of(&fig[k]);
        println!(
            "\nreading: {runs} runs, {} build, 2 cores shared by client, API and PostgreSQL; \
             document {} bytes of JSON ({} of Markdown), transcript {SEGMENTS} segments = {} bytes of JSON",
            if cfg!(debug_assertions) { "debug" } else { "release" },
            sizes.0, body.len(), sizes.1
        );
        println!("  GET /api/me p50 (ms, baseline)                     {}", s("me50"));
        println!("  GET /api/me p99 (ms)                               {}", s("me99"));
        println!("  GET /api/documents/{{id}} p50 (ms)                   {}", s("d50"));
        println!("  GET /api/documents/{{id}} p99 (ms)                   {}", s("d99"));
        println!("    ratio to /api/me p50                             {}", s("d/me"));
        println!("  GET transcript, 1,800 segments, JSON p50 (ms)      {}", s("t50"));
        println!("  GET transcript, JSON p99 (ms)                      {}", s("t99"));
        println!("    ratio to the document's p50                      {}", s("t/d"));
        println!("  GET transcript, WebVTT p50 (ms)                    {}", s("v50"));
        println!("  GET transcript, WebVTT p99 (ms)                    {}", s("v99"));
        println!("  export md through the API (ms, baseline)           {}", s("md_ms"));
        println!("  export html through the API (ms)                   {}", s("html_ms"));
        println!("    ratio to md                                      {}", s("html/md"));
        println!("  export docx through the API (ms)                   {}", s("docx_ms"));
        println!("    ratio to md                                      {}", s("docx/md"));
        println!("  html::render alone (ms)                            {}", s("render_html"));
        println!("  docx::render alone (ms)                            {}", s("render_docx"));
        println!("  peak RSS of the process during md export (MiB)     {}", s("md_rss"));
        println!("  peak RSS during html export (MiB)                  {}", s("html_rss"));
        println!("  peak RSS during docx export (MiB)                  {}", s("docx_rss"));
    });
}
