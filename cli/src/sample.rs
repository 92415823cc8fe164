//! `mediadocs sample FILE`: runs a recording through the stack the way the recording app
//! does (register or log in, create the recording, PUT its parts straight to S3 through the
//! presigned URLs, complete), then waits for its pipeline and prints what it produced.

use std::time::Duration;

use anyhow::{Context, bail};
use mediadocs_workflows::MediaPipelineWorkflow;
use serde_json::{Value, json};
use temporalio_client::{Client, WorkflowGetResultOptions};

pub struct Sample {
    pub file: std::path::PathBuf,
    pub api: String,
    pub email: String,
    pub password: String,
    pub timeout: Duration,
}

async fn send(request: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
    let response = request
        .send()
        .await
        .with_context(|| format!("{what}: the API is unreachable"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{what}: {status} {body}");
    }
    Ok(body)
}

async fn access_token(http: &reqwest::Client, s: &Sample) -> anyhow::Result<String> {
    let credentials = json!({"email": s.email, "password": s.password});
    let registered = http
        .post(format!("{}/api/auth/register", s.api))
        .json(&credentials)
        .send()
        .await?;
    let body: Value = if registered.status() == 409 {
        send(
            http.post(format!("{}/api/auth/login", s.api))
                .json(&credentials),
            "login",
        )
        .await?
    } else if registered.status().is_success() {
        registered.json().await?
    } else {
        bail!(
            "register: {} {}",
            registered.status(),
            registered.text().await.unwrap_or_default()
        );
    };
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no access token in the answer")
}

pub async fn run(s: Sample, temporal: &Client) -> anyhow::Result<()> {
    let bytes = tokio::fs::read(&s.file)
        .await
        .with_context(|| format!("reading {}", s.file.display()))?;
    let filename = s
        .file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("sample.webm")
        .to_owned();
    let content_type = match s.file.extension().and_then(|e| e.to_str()) {
        Some("webm") => "video/webm",
        Some("mp4") => "video/mp4",
        Some("wav") => "audio/wav",
        Some("mp3") => "audio/mpeg",
        _ => "application/octet-stream",
    };
    let http = reqwest::Client::new();
    let token = access_token(&http, &s).await?;
    let created = send(
        http.post(format!("{}/api/recordings", s.api))
            .bearer_auth(&token)
            .json(&json!({
            "filename": filename, "content_type": content_type, "size_bytes": bytes.len()})),
        "create the recording",
    )
    .await?;
    let id = created["recording"]["id"]
        .as_str()
        .context("no recording ID")?
        .to_owned();
    let part_size = created["upload"]["part_size"]
        .as_u64()
        .context("no part size")? as usize;
    let urls = created["upload"]["parts"]
        .as_array()
        .context("no part URLs")?;
    if urls.len() * part_size < bytes.len() {
        bail!("the sample is larger than the first batch of part URLs");
    }
    let mut parts = Vec::new();
    for (n, chunk) in bytes.chunks(part_size).enumerate() {
        let url = urls[n]["url"].as_str().context("a part URL")?;
        let put = http
            .put(url)
            .body(chunk.to_vec())
            .send()
            .await
            .context("PUT to S3")?;
        if !put.status().is_success() {
            bail!("S3 refused part {}: {}", n + 1, put.status());
        }
        let etag = put
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .context("no ETag")?;
        parts.push(json!({"part_number": n + 1, "etag": etag}));
    }
    send(
        http.post(format!("{}/api/recordings/{id}/upload/complete", s.api))
            .bearer_auth(&token)
            .json(&json!({"parts": parts})),
        "complete the upload",
    )
    .await?;
    println!(
        "uploaded {filename} ({} bytes) as recording {id}; waiting for its pipeline",
        bytes.len()
    );
    let handle = temporal.get_workflow_handle::<MediaPipelineWorkflow>(
        mediadocs_workflows::names::pipeline_workflow_id(&id),
    );
    let outcome = tokio::time::timeout(
        s.timeout,
        handle.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .with_context(|| {
        format!(
            "the pipeline did not finish within {} s",
            s.timeout.as_secs()
        )
    })?
    .context("the pipeline failed")?;
    let recording = send(
        http.get(format!("{}/api/recordings/{id}", s.api))
            .bearer_auth(&token),
        "read back",
    )
    .await?;
    // The pipeline completes without a document when writing it failed; the sample's
    // point is the document, so that is a failure here.
    let document = outcome.document_id.with_context(|| {
        format!(
            "the pipeline completed but wrote no document: {}",
            recording["document"]["status_reason"]
        )
    })?;
    println!(
        "pipeline recording-{id} finished: {} bytes verified, {} transcript segments stored, \
         document {document} published (GET /api/documents/{document}), {} passages embedded; \
         recording status {}",
        outcome.stored_bytes, outcome.transcript_segments, outcome.passages, recording["status"]
    );
    let written = send(
        http.get(format!("{}/api/documents/{document}", s.api))
            .bearer_auth(&token),
        "read the document",
    )
    .await?;
    println!(
        "\n--- the document (written by {}) ---\n{}\n--- end of the document ---",
        written["model"].as_str().unwrap_or("an unnamed model"),
        written["markdown"].as_str().unwrap_or_default().trim_end()
    );
    Ok(())
}
