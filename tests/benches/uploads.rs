//! Upload benchmarks against the harness's real S3 server (s3s-fs), PostgreSQL and Temporal.
//!
//!     cargo bench -p mediadocs-tests --bench uploads
//!
//! 1. Presigning 1,000 part URLs: in-process, and through `POST …/upload/parts`.
//! 2. Bytes the API process receives while a 1 GiB upload passes through its presigned URLs,
//!    from the kernel's counters on its sockets (the API runs as the real binary here).
//! 3. Upload throughput through our presigned URLs (plain HTTP PUTs) against direct
//!    `UploadPart` calls with the SDK, same part size and concurrency; reported as a ratio.
//!
//! Knobs: BENCH_RUNS (5), BENCH_UPLOAD_MIB (1024), BENCH_UPLOAD_CONCURRENCY (4).

use std::{process::Command, time::Instant};

use futures::{StreamExt, stream};
use mediadocs_api::{AppState, recordings::presign};
use mediadocs_tests::{TestContext, api_process::ApiProcess, stats::Spread};
use serde_json::{Value, json};

const MIB: usize = 1024 * 1024;
const PART: usize = 8 * MIB;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Bytes received so far on the API's established TCP connections, from the kernel's
/// per-socket counters (`ss -ti`). /proc/<pid>/io's rchar does not count recv(2), which
/// is how the API reads its sockets.
fn bytes_received(api: &ApiProcess) -> u64 {
    let port = api.base.rsplit(':').next().unwrap();
    let out = Command::new("ss")
        .args([
            "-tinH",
            "state",
            "established",
            &format!("( sport = :{port} )"),
        ])
        .output()
        .expect("running ss");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|field| field.strip_prefix("bytes_received:"))
        .filter_map(|v| v.parse::<u64>().ok())
        .sum()
}

async fn presign_in_process(state: &AppState, upload_id: &str) -> f64 {
    let parts: Vec<presign::PartRequest> = (1..=1000)
        .map(|part_number| presign::PartRequest {
            part_number,
            checksum: None,
        })
        .collect();
    let target = presign::Target {
        key: "orgs/x/recordings/y/source.webm",
        upload_id,
        checksum: None,
    };
    let started = Instant::now();
    let urls = presign::part_urls(state, &target, &parts).await.unwrap();
    assert_eq!(urls.len(), 1000);
    started.elapsed().as_secs_f64() * 1e3
}

/// PUTs `data` through presigned URLs from the API, `concurrency` parts at a time; returns
/// MiB/s over the PUTs alone.
async fn upload_through_api(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    data: &[u8],
    concurrency: usize,
) -> f64 {
    let created: Value = http
        .post(format!("{base}/api/recordings"))
        .bearer_auth(token)
        .json(&json!({"filename": "big.webm", "content_type": "video/webm", "size_bytes": data.len()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["recording"]["id"].as_str().unwrap().to_owned();
    let count = created["upload"]["part_count"].as_i64().unwrap();
    let parts: Vec<Value> = (1..=count).map(|n| json!({"part_number": n})).collect();
    let urls: Value = http
        .post(format!("{base}/api/recordings/{id}/upload/parts"))
        .bearer_auth(token)
        .json(&json!({"parts": parts}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let started = Instant::now();
    let mut etags: Vec<(i64, String)> = stream::iter(urls["parts"].as_array().unwrap().clone())
        .map(|u| async move {
            let n = u["part_number"].as_i64().unwrap() as usize;
            let body = data[(n - 1) * PART..(n * PART).min(data.len())].to_vec();
            let r = http
                .put(u["url"].as_str().unwrap())
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            (n as i64, r.headers()["etag"].to_str().unwrap().to_owned())
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    etags.sort();
    let parts: Vec<Value> = etags
        .iter()
        .map(|(n, e)| json!({"part_number": n, "etag": e}))
        .collect();
    let done = http
        .post(format!("{base}/api/recordings/{id}/upload/complete"))
        .bearer_auth(token)
        .json(&json!({"parts": parts}))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200, "{}", done.text().await.unwrap());
    data.len() as f64 / MIB as f64 / elapsed
}

/// The same bytes with the SDK's own UploadPart, straight to S3; MiB/s over the parts.
async fn upload_direct(ctx: &TestContext, key: &str, data: &[u8], concurrency: usize) -> f64 {
    let s3 = &ctx.s3;
    let upload = s3
        .create_multipart_upload()
        .bucket(&ctx.bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let upload_id = upload.upload_id().unwrap().to_owned();
    let count = data.len().div_ceil(PART);
    let started = Instant::now();
    let mut parts: Vec<(i32, String)> = stream::iter(1..=count)
        .map(|n| {
            let upload_id = upload_id.clone();
            async move {
                let body = data[(n - 1) * PART..(n * PART).min(data.len())].to_vec();
                let r = s3
                    .upload_part()
                    .bucket(&ctx.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .part_number(n as i32)
                    .body(body.into())
                    .send()
                    .await
                    .unwrap();
                (n as i32, r.e_tag().unwrap().to_owned())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    parts.sort();
    let completed = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .into_iter()
                .map(|(n, e)| {
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(n)
                        .e_tag(e)
                        .build()
                })
                .collect(),
        ))
        .build();
    s3.complete_multipart_upload()
        .bucket(&ctx.bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(completed)
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket(&ctx.bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    data.len() as f64 / MIB as f64 / elapsed
}

fn main() {
    let runs = knob("BENCH_RUNS", 5);
    let mib = knob("BENCH_UPLOAD_MIB", 1024);
    let concurrency = knob("BENCH_UPLOAD_CONCURRENCY", 4);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ctx = TestContext::new().await;
        let state = AppState::new(ctx.pool.clone(), ctx.temporal.clone(), ctx.s3.clone(), ctx.api_settings());
        let api = ApiProcess::start(&ctx).await;
        let http = reqwest::Client::new();
        let session: Value = http
            .post(format!("{}/api/auth/register", api.base))
            .json(&json!({"email": "bench@example.com", "password": "bench-password"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = session["access_token"].as_str().unwrap().to_owned();

        // 1. Presigning.
        let mut in_process = Vec::new();
        let mut over_http = Vec::new();
        let created: Value = http
            .post(format!("{}/api/recordings", api.base))
            .bearer_auth(&token)
            .json(&json!({"filename": "p.webm", "content_type": "video/webm", "size_bytes": 8000 * MIB}))
            .send().await.unwrap().json().await.unwrap();
        let id = created["recording"]["id"].as_str().unwrap().to_owned();
        let parts: Vec<Value> = (1..=1000).map(|n| json!({"part_number": n})).collect();
        for _ in 0..runs.max(10) {
            in_process.push(presign_in_process(&state, "bench-upload").await);
            let started = Instant::now();
            let r = http.post(format!("{}/api/recordings/{id}/upload/parts", api.base))
                .bearer_auth(&token).json(&json!({"parts": parts})).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap();
            over_http.push(started.elapsed().as_secs_f64() * 1e3);
        }

        // 2 and 3. A large upload, through the API's URLs and directly.
        let data: Vec<u8> = (0..mib * MIB).map(|i| (i % 251) as u8).collect();
        let (mut via_api, mut direct, mut ratio, mut api_bytes) = (vec![], vec![], vec![], vec![]);
        for r in 0..runs {
            let before = bytes_received(&api);
            let through = upload_through_api(&http, &api.base, &token, &data, concurrency).await;
            api_bytes.push(bytes_received(&api).saturating_sub(before) as f64);
            let straight = upload_direct(&ctx, &format!("bench/direct-{r}"), &data, concurrency).await;
            eprintln!("  run {r}: presigned {through:.0} MiB/s, direct {straight:.0} MiB/s, API read {} bytes", api_bytes[r]);
            via_api.push(through);
            direct.push(straight);
            ratio.push(through / straight);
        }
        println!("\nuploads: {runs} runs, {mib} MiB in 8 MiB parts, {concurrency} parts in flight, mediadocs-dev-s3 on loopback");
        println!("  presign 1,000 part URLs, in process (ms)        {}", Spread::of(&in_process));
        println!("  presign 1,000 part URLs, POST …/parts (ms)      {}", Spread::of(&over_http));
        println!("  bytes received by the API per {mib} MiB upload    {}", Spread::of(&api_bytes));
        println!("  throughput via presigned URLs (MiB/s)           {}", Spread::of(&via_api));
        println!("  throughput direct UploadPart (MiB/s)            {}", Spread::of(&direct));
        println!("  ratio presigned / direct                        {}", Spread::of(&ratio));
    });
}
