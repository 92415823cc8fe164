//! The default stack's transcription, for real: `mediadocs-local-models` (with the test
//! models, Whisper tiny.en and SmolLM2-135M) transcribes the sample from its audio through
//! the asynchronous AssemblyAI-style path and calls the API back with a Standard Webhooks
//! signature; a full queue answers 429 and the pipeline retries; a
//! server killed mid-job loses the job and the pipeline submits it again; and bad input to
//! the server gets a 4xx in OpenAI's error shape while the server stays up.

use std::time::Duration;

use mediadocs_dev::openai::OpenAiSimulator;
use mediadocs_tests::{
    TestApp, TestContext, TestWorker, WorkerProviders,
    local_models::{LocalModels, TEST_CHAT_MODEL, TEST_WHISPER},
    tools, wait,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::providers::webhooks::pipeline_result;

/// The pipeline's result, or `None` if it has not ended within `within`.
pub(crate) async fn pipeline_result_within(
    ctx: &TestContext,
    id: &str,
    within: Duration,
) -> Option<Value> {
    use mediadocs_workflows::MediaPipelineWorkflow;
    use temporalio_client::WorkflowGetResultOptions;
    let handle = ctx.temporal.get_workflow_handle::<MediaPipelineWorkflow>(
        mediadocs_workflows::names::pipeline_workflow_id(id),
    );
    let outcome = tokio::time::timeout(
        within,
        handle.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .ok()?
    .expect("the pipeline succeeds");
    Some(serde_json::to_value(outcome).unwrap())
}

fn sample() -> Vec<u8> {
    std::fs::read(tools::repo_root().join("samples/weekly-sync.webm")).unwrap()
}

fn providers(models: &LocalModels, app: &TestApp, poll: Duration) -> WorkerProviders {
    let mut providers = WorkerProviders::selfhosted(
        &models.base_url,
        &app.base_url,
        poll,
        Duration::from_secs(900),
    );
    // Submitting waits for nothing (the job is queued), so the client's timeout stays short.
    providers.transcription.timeout = Duration::from_secs(30);
    providers
}

async fn transcript_text(ctx: &TestContext, id: &str) -> String {
    let texts: Vec<String> = sqlx::query_scalar(
        "SELECT text FROM transcript_segments WHERE recording_id = $1 ORDER BY idx",
    )
    .bind(Uuid::parse_str(id).unwrap())
    .fetch_all(&ctx.owner_pool)
    .await
    .unwrap();
    texts.join(" ").to_lowercase()
}

/// The job's row: how often it was resubmitted, and whether a signed callback landed.
async fn job_facts(ctx: &TestContext, id: &str) -> (i32, i64) {
    sqlx::query_as(
        "SELECT j.resubmissions,
                (SELECT count(*) FROM transcription_deliveries d WHERE d.job_id = j.id)
         FROM transcription_jobs j WHERE j.recording_id = $1",
    )
    .bind(Uuid::parse_str(id).unwrap())
    .fetch_one(&ctx.owner_pool)
    .await
    .unwrap()
}

async fn metric(models: &LocalModels, name: &str) -> f64 {
    let text = reqwest::get(format!("{}/metrics", models.base_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The default stack's transcription, for real: the model server fetches the audio,
/// transcribes it with Whisper and calls the API back with a signed webhook. The document
/// is the simulator's (the small local models do not yet pass the document stage's
/// validation), but the model server's chat model is asked about the stored transcript.
#[tokio::test(flavor = "multi_thread")]
async fn the_sample_is_transcribed_from_its_audio_and_called_back_signed() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let models = LocalModels::start(&[]).await;
    let llm = OpenAiSimulator::start().await;
    let providers = providers(&models, &app, Duration::from_secs(30)).with_llm(&llm.base_url());
    let _worker = TestWorker::spawn_with(&ctx, providers);

    let owner = app.register("local-models@example.com").await;
    let id = app
        .upload(&owner, "weekly-sync.webm", "video/webm", &sample())
        .await;
    let started = std::time::Instant::now();
    let outcome = pipeline_result_within(&ctx, &id, Duration::from_secs(180)).await;
    println!(
        "the sample's pipeline took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let Some(outcome) = outcome else {
        panic!(
            "the pipeline did not finish; the model server's log:\n{}",
            models.log_tail()
        );
    };

    // Transcribed from the audio (the sidecar file plays no part here): the words spoken.
    let text = transcript_text(&ctx, &id).await;
    for word in [
        "weekly sync",
        "object storage",
        "ticket",
        "1234",
        "friday",
        "runbook",
    ] {
        assert!(
            text.contains(word),
            "{word:?} missing from the transcript: {text}"
        );
    }
    let script: Value = serde_json::from_slice(
        &std::fs::read(tools::repo_root().join("samples/weekly-sync.transcript.json")).unwrap(),
    )
    .unwrap();
    let script: Vec<&str> = script["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    let wer = mediadocs_local_models::whisper::wer::word_error_rate(&script.join(" "), &text);
    assert!(
        wer < 0.25,
        "word error rate {wer:.3} against the sample's script"
    );
    // It arrived by a signed callback, well within the 30-second poll.
    let (resubmissions, deliveries) = job_facts(&ctx, &id).await;
    assert_eq!((resubmissions, deliveries), (0, 1));
    assert!(outcome["passages"].as_u64().unwrap() > 0, "{outcome}");

    // The chat model reads what was said.
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", models.base_url))
        .json(&json!({
            "model": TEST_CHAT_MODEL, "temperature": 0, "max_tokens": 24,
            "messages": [{"role": "user", "content": format!(
                "Meeting transcript: {text}\n\nWhich day will the release ship? Answer with the day only.")}],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reply = answer["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default();
    assert!(reply.to_lowercase().contains("friday"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_answers_429_and_the_pipeline_retries_until_it_is_admitted() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    // One transcription at a time and none waiting.
    let models = LocalModels::start(&[("LOCAL_MODELS_QUEUE_DEPTH", "0")]).await;
    let llm = OpenAiSimulator::start().await;
    let _worker = TestWorker::spawn_with(
        &ctx,
        providers(&models, &app, Duration::from_secs(2)).with_llm(&llm.base_url()),
    );

    // Hold the one slot with a direct transcription of the sample.
    let http = reqwest::Client::new();
    let form = || {
        reqwest::multipart::Form::new()
            .text("model", TEST_WHISPER)
            .part(
                "file",
                reqwest::multipart::Part::bytes(sample()).file_name("a.webm"),
            )
    };
    let holder = tokio::spawn({
        let (http, url) = (
            http.clone(),
            format!("{}/v1/audio/transcriptions", models.base_url),
        );
        let form = form();
        async move {
            http.post(url)
                .multipart(form)
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    wait::until("the slot taken", Duration::from_secs(10), || async {
        let health: Value = reqwest::get(format!("{}/healthz", models.base_url))
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (health["queues"]["transcription"] == 1).then_some(())
    })
    .await;
    let refused = http
        .post(format!("{}/v1/audio/transcriptions", models.base_url))
        .multipart(form())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["error"]["code"], "rate_limit_exceeded", "{problem}");

    let owner = app.register("queue@example.com").await;
    let id = app
        .upload(&owner, "weekly-sync.webm", "video/webm", &sample())
        .await;
    assert_eq!(holder.await.unwrap(), 200);
    let outcome = pipeline_result(&ctx, &id).await;
    assert!(
        outcome["transcript_segments"].as_u64().unwrap() > 0,
        "{outcome}"
    );
    assert!(
        metric(&models, "local_models_rejected_total").await >= 1.0,
        "the pipeline's first submission was turned away: {}",
        models.log_tail()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_server_killed_mid_job_gets_the_job_again_and_the_pipeline_completes() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let mut models = LocalModels::start(&[]).await;
    let llm = OpenAiSimulator::start().await;
    let _worker = TestWorker::spawn_with(
        &ctx,
        providers(&models, &app, Duration::from_secs(2)).with_llm(&llm.base_url()),
    );

    let owner = app.register("crash@example.com").await;
    let id = app
        .upload(&owner, "weekly-sync.webm", "video/webm", &sample())
        .await;
    let recording = Uuid::parse_str(&id).unwrap();
    // Submitted: the model server holds the job and nothing has come back yet.
    wait::until("the job submitted", Duration::from_secs(60), || async {
        let submitted: Option<Option<String>> = sqlx::query_scalar(
            "SELECT provider_job_id FROM transcription_jobs WHERE recording_id = $1 AND status = 'submitted'",
        )
        .bind(recording)
        .fetch_optional(&ctx.owner_pool)
        .await
        .unwrap();
        submitted.flatten()
    })
    .await;
    models.restart().await;

    let outcome = pipeline_result(&ctx, &id).await;
    assert!(
        outcome["transcript_segments"].as_u64().unwrap() > 0,
        "{outcome}"
    );
    let (resubmissions, _) = job_facts(&ctx, &id).await;
    assert_eq!(resubmissions, 1, "submitted once more after the crash");
    assert!(transcript_text(&ctx, &id).await.contains("runbook"));
}

/// A WAV header claiming `rate` samples per second, with a little silence after it.
fn wav_at(rate: u32) -> Vec<u8> {
    let data = vec![0u8; 3200];
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(rate.wrapping_mul(2)).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    wav
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_clear_4xx_in_openais_shape_and_the_server_stays_up() {
    // The sample is 32 s long: over a 20-second limit.
    let models = LocalModels::start(&[("LOCAL_MODELS_MAX_AUDIO_SECS", "20")]).await;
    let http = reqwest::Client::new();
    let transcribe = |bytes: Vec<u8>, model: &str| {
        let form = reqwest::multipart::Form::new()
            .text("model", model.to_owned())
            .text("response_format", "verbose_json")
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name("f"),
            );
        http.post(format!("{}/v1/audio/transcriptions", models.base_url))
            .multipart(form)
            .send()
    };
    let webm = sample();
    let cases: Vec<(&str, reqwest::Response, u16)> = vec![
        (
            "not audio",
            transcribe(b"%PDF-1.7 not audio at all".repeat(40), TEST_WHISPER)
                .await
                .unwrap(),
            400,
        ),
        (
            "truncated",
            transcribe(webm[..200].to_vec(), TEST_WHISPER)
                .await
                .unwrap(),
            400,
        ),
        (
            "absurd sample rate",
            transcribe(wav_at(1_000_000_000), TEST_WHISPER)
                .await
                .unwrap(),
            400,
        ),
        (
            "over the length limit",
            transcribe(webm.clone(), TEST_WHISPER).await.unwrap(),
            413,
        ),
        (
            "unknown model",
            transcribe(wav_at(16_000), "whisper-large-v9")
                .await
                .unwrap(),
            404,
        ),
        (
            "empty file",
            transcribe(Vec::new(), TEST_WHISPER).await.unwrap(),
            400,
        ),
    ];
    for (what, response, status) in cases {
        assert_eq!(response.status(), status, "{what}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}: {body}"
        );
        assert!(body["error"]["type"].is_string(), "{what}: {body}");
    }

    let chat = |body: Value| {
        http.post(format!("{}/v1/chat/completions", models.base_url))
            .json(&body)
            .send()
    };
    let long = "word ".repeat(20_000);
    let chat_cases = [
        (
            "unknown model",
            json!({"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}),
            404,
            "model_not_found",
        ),
        (
            "over-long prompt",
            json!({"model": TEST_CHAT_MODEL, "messages": [{"role": "user", "content": long}]}),
            400,
            "context_length_exceeded",
        ),
    ];
    for (what, body, status, code) in chat_cases {
        let response = chat(body).await.unwrap();
        assert_eq!(response.status(), status, "{what}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
    }
    for (what, body) in [
        (
            "no messages",
            json!({"model": TEST_CHAT_MODEL, "messages": []}),
        ),
        (
            "temperature 7",
            json!({"model": TEST_CHAT_MODEL, "temperature": 7, "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (
            "a tool role",
            json!({"model": TEST_CHAT_MODEL, "messages": [{"role": "tool", "content": "hi"}]}),
        ),
        (
            "max_tokens 0",
            json!({"model": TEST_CHAT_MODEL, "max_tokens": 0, "messages": [{"role": "user", "content": "hi"}]}),
        ),
    ] {
        let response = chat(body).await.unwrap();
        assert_eq!(response.status(), 400, "{what}");
    }
    let not_json = http
        .post(format!("{}/v1/chat/completions", models.base_url))
        .header("content-type", "application/json")
        .body("{\"model\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let bad_job = http
        .post(format!("{}/v2/transcript", models.base_url))
        .json(&json!({"audio_url": "file:///etc/passwd"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_job.status(), 400);

    // Still up, and still answering: a streamed completion ends with [DONE] and usage.
    let streamed = chat(json!({
        "model": TEST_CHAT_MODEL, "stream": true, "max_tokens": 8,
        "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "Say hello."}],
    }))
    .await
    .unwrap();
    assert_eq!(streamed.status(), 200);
    let text = streamed.text().await.unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert!(text.contains("\"completion_tokens\""), "{text}");
    assert!(!models.server.pid().to_string().is_empty());
    let health = reqwest::get(format!("{}/healthz", models.base_url))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}
