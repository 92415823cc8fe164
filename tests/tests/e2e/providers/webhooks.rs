//! The transcription webhook, end to end: the simulator calls back the real API, which
//! signals the real pipeline, whose activities fetch the transcript into PostgreSQL; and
//! every way a callback can be refused, posted by hand.

use std::time::Duration;

use mediadocs_dev::{
    openai::OpenAiSimulator,
    transcription::{Knobs, Options, TranscriptionSimulator},
};
use mediadocs_providers::{
    transcription::{Segment, Transcript},
    webhook::{job_token, standard::Secret},
};
use mediadocs_tests::{
    TestApp, TestContext, TestWorker, WorkerProviders,
    context::{TEST_SELFHOSTED_SECRETS, test_job_tokens},
    fixtures, histories, wait,
};
use mediadocs_workflows::{MediaPipelineWorkflow, RecordingRef};
use serde_json::{Value, json};
use temporalio_client::WorkflowStartOptions;
use uuid::Uuid;

pub(crate) fn sidecar() -> Transcript {
    let line = |i: i64, speaker: &str, text: &str| Segment {
        start_ms: i * 4_000,
        end_ms: i * 4_000 + 3_500,
        text: text.into(),
        speaker: Some(speaker.into()),
        confidence: Some(0.9),
    };
    Transcript {
        language: Some("en".into()),
        duration_ms: Some(12_000),
        segments: vec![
            line(0, "A", "Welcome to the weekly sync."),
            line(1, "B", "The migration to Postgres 18 is done."),
            line(2, "A", "Great, let's ship it on Friday."),
        ],
    }
}

/// A real (if tuneless) recording whose bytes differ by tag; the simulator recognises them
/// by their hash.
pub(crate) fn media(tag: &str) -> Vec<u8> {
    mediadocs_tests::media::tagged_wav(12, tag)
}

pub(crate) struct Stack {
    pub ctx: TestContext,
    pub app: TestApp,
    pub sim: TranscriptionSimulator,
    pub llm: OpenAiSimulator,
    pub _worker: TestWorker,
}

pub(crate) async fn stack(poll: Duration) -> Stack {
    stack_on(TestContext::new().await, poll).await
}

/// A stack on `ctx`, which may have been moved onto a Temporal server of its own.
pub(crate) async fn stack_on(ctx: TestContext, poll: Duration) -> Stack {
    let app = TestApp::spawn(&ctx).await;
    let sim = TranscriptionSimulator::start(
        "127.0.0.1:0",
        Options {
            signing_secret: Some(Secret::parse(TEST_SELFHOSTED_SECRETS[0]).unwrap()),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let llm = OpenAiSimulator::start().await;
    let providers = WorkerProviders::selfhosted(
        &sim.base_url(),
        &app.base_url,
        poll,
        Duration::from_secs(600),
    )
    .with_llm(&llm.base_url());
    let worker = TestWorker::spawn_with(&ctx, providers);
    Stack {
        ctx,
        app,
        sim,
        llm,
        _worker: worker,
    }
}

pub(crate) async fn pipeline_result(ctx: &TestContext, id: &str) -> Value {
    crate::local_models::pipeline_result_within(ctx, id, Duration::from_secs(60))
        .await
        .expect("the pipeline ends within a minute")
}

async fn stored_segments(ctx: &TestContext, id: &str) -> Vec<(i64, i64, String, Option<String>)> {
    sqlx::query_as(
        "SELECT start_ms, end_ms, text, speaker FROM transcript_segments WHERE recording_id = $1 ORDER BY idx",
    )
    .bind(Uuid::parse_str(id).unwrap())
    .fetch_all(&ctx.owner_pool)
    .await
    .unwrap()
}

fn expected_segments() -> Vec<(i64, i64, String, Option<String>)> {
    sidecar()
        .segments
        .into_iter()
        .map(|s| (s.start_ms, s.end_ms, s.text, s.speaker))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_callback_wakes_the_pipeline_which_stores_the_transcript() {
    // Polling every 10 minutes: finishing in seconds proves the callback woke the workflow.
    let s = stack(Duration::from_secs(600)).await;
    let bytes = media("happy");
    s.sim.register(&bytes, sidecar());
    let owner = s.app.register("webhook-happy@example.com").await;
    let id = s.app.upload(&owner, "sync.wav", "audio/wav", &bytes).await;

    let outcome = pipeline_result(&s.ctx, &id).await;
    histories::save(
        &s.ctx.temporal,
        &mediadocs_workflows::names::pipeline_workflow_id(&id),
        "happy-webhook",
    )
    .await;
    assert_eq!(outcome["transcript_segments"], 3);
    assert_eq!(stored_segments(&s.ctx, &id).await, expected_segments());
    let calls = s.sim.calls();
    assert_eq!((calls.submissions, calls.audio_downloads), (1, 1));
    assert_eq!(calls.callback_statuses, [200], "one delivery, accepted");
    assert_eq!(
        calls.polls, 1,
        "the transcript was fetched once, after the callback"
    );
    let (job_status, signalled): (String, bool) = sqlx::query_as(
        "SELECT j.status, d.signalled_at IS NOT NULL FROM transcription_jobs j
         JOIN transcription_deliveries d ON d.job_id = j.id WHERE j.recording_id = $1",
    )
    .bind(Uuid::parse_str(&id).unwrap())
    .fetch_one(&s.ctx.owner_pool)
    .await
    .unwrap();
    assert_eq!((job_status.as_str(), signalled), ("completed", true));

    let log: Vec<(String, String)> = sqlx::query_as(
        "SELECT stage, status FROM pipeline_events WHERE recording_id = $1 ORDER BY id",
    )
    .bind(Uuid::parse_str(&id).unwrap())
    .fetch_all(&s.ctx.owner_pool)
    .await
    .unwrap();
    let log: Vec<(&str, &str)> = log.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(
        log,
        [
            ("verify", "started"),
            ("verify", "completed"),
            ("transcribe", "started"),
            ("transcribe", "completed"),
            ("generate", "started"),
            ("generate", "completed"),
            ("embed", "started"),
            ("embed", "completed"),
            ("publish", "started"),
            ("publish", "completed"),
        ]
    );
    let statuses: Vec<String> = sqlx::query_scalar(
        "SELECT payload->>'status' FROM events WHERE type = 'recording.status_changed' ORDER BY id",
    )
    .fetch_all(&s.ctx.owner_pool)
    .await
    .unwrap();
    assert_eq!(
        statuses,
        [
            // The API's, when the upload completed; the rest are the pipeline's.
            "uploaded",
            "verifying",
            "transcribing",
            "generating",
            "embedding",
            "completed"
        ]
    );

    // The published document and the searchable passages.
    let (status, markdown): (String, String) = sqlx::query_as(
        "SELECT d.status, v.markdown FROM documents d
         JOIN document_versions v ON v.document_id = d.id AND v.version = 1
         WHERE d.recording_id = $1",
    )
    .bind(Uuid::parse_str(&id).unwrap())
    .fetch_one(&s.ctx.owner_pool)
    .await
    .unwrap();
    assert_eq!(status, "published");
    assert!(
        markdown.starts_with("# ") && markdown.contains("## Action items"),
        "{markdown}"
    );
    assert_eq!(outcome["document_id"].as_str().map(str::len), Some(36));
    let passages: i64 = sqlx::query_scalar("SELECT count(*) FROM passages WHERE recording_id = $1")
        .bind(Uuid::parse_str(&id).unwrap())
        .fetch_one(&s.ctx.owner_pool)
        .await
        .unwrap();
    assert!(
        passages >= 1 && outcome["passages"] == passages,
        "{passages} {outcome}"
    );
    let ready: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE type = 'document.ready'")
            .fetch_one(&s.ctx.owner_pool)
            .await
            .unwrap();
    assert_eq!(ready, 1);
    assert!(s.llm.calls().chat_requests >= 2, "map and write at least");
    assert_eq!(s.app.recording(&owner, &id).await["status"], "completed");
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_callbacks_produce_one_delivery_and_one_transcript() {
    let s = stack(Duration::from_secs(600)).await;
    s.sim.set_knobs(Knobs {
        duplicate_callbacks: 3,
        ..Knobs::default()
    });
    let bytes = media("dupes");
    s.sim.register(&bytes, sidecar());
    let owner = s.app.register("webhook-dupes@example.com").await;
    let id = s.app.upload(&owner, "sync.wav", "audio/wav", &bytes).await;

    pipeline_result(&s.ctx, &id).await;
    let calls = wait::until("all four deliveries", Duration::from_secs(10), || {
        let calls = s.sim.calls();
        async move { (calls.callback_statuses.len() == 4).then_some(calls) }
    })
    .await;
    assert_eq!(calls.callback_statuses, [200, 200, 200, 200]);
    let deliveries: i64 = sqlx::query_scalar("SELECT count(*) FROM transcription_deliveries")
        .fetch_one(&s.ctx.owner_pool)
        .await
        .unwrap();
    assert_eq!(deliveries, 1);
    assert_eq!(stored_segments(&s.ctx, &id).await, expected_segments());
    let transcripts: i64 = sqlx::query_scalar("SELECT count(*) FROM transcripts")
        .fetch_one(&s.ctx.owner_pool)
        .await
        .unwrap();
    assert_eq!(transcripts, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_callback_the_pipeline_polls() {
    let s = stack(Duration::from_secs(1)).await;
    s.sim.set_knobs(Knobs {
        never_callback: true,
        processing_ms: 1500,
        ..Knobs::default()
    });
    let bytes = media("polls");
    s.sim.register(&bytes, sidecar());
    let owner = s.app.register("webhook-polls@example.com").await;
    let id = s.app.upload(&owner, "sync.wav", "audio/wav", &bytes).await;

    let outcome = pipeline_result(&s.ctx, &id).await;
    histories::save(
        &s.ctx.temporal,
        &mediadocs_workflows::names::pipeline_workflow_id(&id),
        "poll-after-timeout",
    )
    .await;
    assert_eq!(outcome["transcript_segments"], 3);
    let calls = s.sim.calls();
    assert_eq!(calls.callbacks_sent, 0);
    assert!(
        calls.polls >= 2,
        "polled while processing, then once done: {calls:?}"
    );
    assert_eq!(stored_segments(&s.ctx, &id).await, expected_segments());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_job_or_silence_fails_the_recording_clearly() {
    let s = stack(Duration::from_secs(600)).await;
    let owner = s.app.register("webhook-silence@example.com").await;
    let silent = media("silence");
    s.sim.register(
        &silent,
        Transcript {
            language: None,
            duration_ms: Some(5_000),
            segments: vec![],
        },
    );
    let quiet = s
        .app
        .upload(&owner, "quiet.wav", "audio/wav", &silent)
        .await;
    // No sidecar: the simulator fails the job, as a provider fails undecodable audio.
    let unknown = s
        .app
        .upload(&owner, "noise.wav", "audio/wav", &media("unknown"))
        .await;

    for (id, kind, reason) in [
        (&quiet, "NoSpeech", "no speech"),
        (&unknown, "TranscriptionFailed", "no sidecar"),
    ] {
        use mediadocs_workflows::MediaPipelineWorkflow;
        let handle = s.ctx.temporal.get_workflow_handle::<MediaPipelineWorkflow>(
            mediadocs_workflows::names::pipeline_workflow_id(id),
        );
        let err = tokio::time::timeout(
            Duration::from_secs(60),
            handle.get_result(Default::default()),
        )
        .await
        .expect("ends")
        .expect_err("fails");
        assert!(format!("{err:?}").contains(kind), "{kind}: {err:?}");
        if kind == "NoSpeech" {
            histories::save(
                &s.ctx.temporal,
                &mediadocs_workflows::names::pipeline_workflow_id(id),
                "failure-no-speech",
            )
            .await;
        }
        let (status, stage, why): (String, Option<String>, Option<String>) = sqlx::query_as(
            "SELECT status, failed_stage, status_reason FROM recordings WHERE id = $1",
        )
        .bind(Uuid::parse_str(id).unwrap())
        .fetch_one(&s.ctx.owner_pool)
        .await
        .unwrap();
        assert_eq!(
            (status.as_str(), stage.as_deref()),
            ("failed", Some("transcribe"))
        );
        assert!(why.unwrap_or_default().contains(reason));
        assert!(
            stored_segments(&s.ctx, id).await.is_empty(),
            "no empty transcript is stored"
        );
    }
}

/// A job row for hand-made callbacks, on a recording of a fresh account's org.
async fn job(ctx: &TestContext, app: &TestApp, email: &str, provider: &str) -> (Uuid, Uuid) {
    let owner = app.register(email).await;
    let created: Value = app
        .authed(reqwest::Method::POST, "/api/recordings", owner.token())
        .json(&json!({"filename": "a.webm", "content_type": "video/webm", "size_bytes": 1000}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let recording = Uuid::parse_str(created["recording"]["id"].as_str().unwrap()).unwrap();
    let job = fixtures::transcription_job(
        &ctx.owner_pool,
        owner.org_id(),
        recording,
        provider,
        "prov-1",
    )
    .await;
    (recording, job)
}

fn callback_url(
    app: &TestApp,
    provider: &str,
    recording: Uuid,
    job: Uuid,
    token: Option<String>,
) -> String {
    let token =
        token.unwrap_or_else(|| test_job_tokens().token(&recording.to_string(), &job.to_string()));
    app.url(&format!(
        "/api/webhooks/transcription/{provider}?recording={recording}&job={job}&token={token}"
    ))
}

#[derive(Clone)]
struct Signed<'a> {
    secret: &'a str,
    id: &'a str,
    timestamp: i64,
    body: &'a str,
}

async fn post_signed(app: &TestApp, url: &str, s: Signed<'_>) -> (u16, Value) {
    let signature = Secret::parse(s.secret)
        .unwrap()
        .sign(s.id, s.timestamp, s.body.as_bytes());
    let r = app
        .http
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", s.id)
        .header("webhook-timestamp", s.timestamp.to_string())
        .header("webhook-signature", signature)
        .body(s.body.to_owned())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    if status >= 400 {
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn selfhosted_callbacks_are_verified_over_the_raw_body() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let (recording, job) = job(&ctx, &app, "hooks-std@example.com", "selfhosted").await;
    let url = callback_url(&app, "selfhosted", recording, job, None);
    let now = chrono::Utc::now().timestamp();
    let body = r#"{"transcript_id": "prov-1", "status": "completed"}"#;
    let good = |id| Signed {
        secret: TEST_SELFHOSTED_SECRETS[0],
        id,
        timestamp: now,
        body,
    };

    let long_id = format!("msg_{}", "x".repeat(300));
    let cases: [(&str, Signed<'_>, u16); 6] = [
        (
            "an unknown key",
            Signed {
                secret: "whsec_dGhpcyBpcyBub3QgYSBrZXkgb2Ygb3Vycw==",
                ..good("msg_1")
            },
            401,
        ),
        (
            "too old",
            Signed {
                timestamp: now - 301,
                ..good("msg_2")
            },
            401,
        ),
        (
            "from the future",
            Signed {
                timestamp: now + 301,
                ..good("msg_3")
            },
            401,
        ),
        (
            "a body not as signed",
            Signed {
                body: r#"{"transcript_id":"prov-1","status":"completed"}"#,
                ..good("msg_4")
            },
            200,
        ),
        (
            "an ID too long to keep, signed",
            Signed {
                id: &long_id,
                ..good("unused")
            },
            400,
        ),
        (
            "malformed JSON, signed",
            Signed {
                body: r#"{"transcript_id": "#,
                ..good("msg_5")
            },
            400,
        ),
    ];
    for (what, signed, expected) in cases {
        let (status, body) = post_signed(&app, &url, signed).await;
        assert_eq!(status, expected, "{what}: {body}");
    }
    // The rotated-out secret still verifies; the same delivery again is a duplicate.
    let (status, first) = post_signed(
        &app,
        &url,
        Signed {
            secret: TEST_SELFHOSTED_SECRETS[1],
            ..good("msg_9")
        },
    )
    .await;
    assert_eq!((status, first["result"].as_str()), (200, Some("accepted")));
    let (status, again) = post_signed(&app, &url, good("msg_9")).await;
    assert_eq!((status, again["result"].as_str()), (200, Some("duplicate")));

    // Signed correctly but carried with a tampered body: the signature no longer matches.
    let signature =
        Secret::parse(TEST_SELFHOSTED_SECRETS[0])
            .unwrap()
            .sign("msg_10", now, body.as_bytes());
    let tampered = app
        .http
        .post(&url)
        .header("webhook-id", "msg_10")
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", signature)
        .body(body.replace("completed", "error"))
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 401);
    let unsigned = app.http.post(&url).body(body).send().await.unwrap();
    assert_eq!(unsigned.status(), 401, "no signature headers");

    let deliveries: Vec<String> =
        sqlx::query_scalar("SELECT delivery_key FROM transcription_deliveries ORDER BY 1")
            .fetch_all(&ctx.owner_pool)
            .await
            .unwrap();
    assert_eq!(
        deliveries,
        ["msg_4", "msg_9"],
        "only verified, well-formed deliveries are stored"
    );
}

/// The API can die after the workflow has its signal but before the delivery is marked
/// signalled; the provider's retry then signals again, and the server drops the repeat
/// because the signal's request ID is the delivery's.
#[tokio::test(flavor = "multi_thread")]
async fn a_signal_repeated_after_a_crash_reaches_the_workflow_once() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let (recording, job) = job(&ctx, &app, "hooks-resignal@example.com", "selfhosted").await;
    let workflow_id = mediadocs_workflows::names::pipeline_workflow_id(recording);
    // On a task queue no worker polls: the server records the signals and nothing else runs.
    ctx.temporal
        .start_workflow(
            MediaPipelineWorkflow::run,
            RecordingRef {
                org_id: org_of(&ctx, recording).await,
                recording_id: recording,
            },
            WorkflowStartOptions::new("resignal-no-worker", workflow_id.clone()).build(),
        )
        .await
        .unwrap();
    let url = callback_url(&app, "selfhosted", recording, job, None);
    let delivery = Signed {
        secret: TEST_SELFHOSTED_SECRETS[0],
        id: "msg_resignal",
        timestamp: chrono::Utc::now().timestamp(),
        body: r#"{"transcript_id": "prov-1", "status": "completed"}"#,
    };
    let (status, first) = post_signed(&app, &url, delivery.clone()).await;
    assert_eq!((status, first["result"].as_str()), (200, Some("accepted")));
    // The crash: signalled, but the mark never written.
    sqlx::query("UPDATE transcription_deliveries SET signalled_at = NULL")
        .execute(&ctx.owner_pool)
        .await
        .unwrap();
    let (status, retried) = post_signed(&app, &url, delivery.clone()).await;
    assert_eq!(
        (status, retried["result"].as_str()),
        (200, Some("accepted"))
    );
    let (status, again) = post_signed(&app, &url, delivery).await;
    assert_eq!((status, again["result"].as_str()), (200, Some("duplicate")));

    let signals = histories::events(&ctx.temporal, &workflow_id)
        .await
        .into_iter()
        .filter(|e| e.kind == "WorkflowExecutionSignaledEventAttributes")
        .count();
    assert_eq!(signals, 1, "the repeated signal was dropped by the server");
    let signalled: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT signalled_at FROM transcription_deliveries")
            .fetch_one(&ctx.owner_pool)
            .await
            .unwrap();
    assert!(signalled.is_some());
}

async fn org_of(ctx: &TestContext, recording: Uuid) -> Uuid {
    sqlx::query_scalar("SELECT org_id FROM recordings WHERE id = $1")
        .bind(recording)
        .fetch_one(&ctx.owner_pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_headers_and_unknown_jobs() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let (recording, job) = job(&ctx, &app, "hooks-aai@example.com", "assemblyai").await;
    let body = r#"{"transcript_id":"prov-1","status":"completed"}"#;
    let post = |url: String, header: Option<String>| {
        let mut request = app
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(value) = header {
            request = request.header(job_token::AUTH_HEADER, value);
        }
        async move {
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let header = Some(test_job_tokens().header_value(&job.to_string()));
    let other_job = Uuid::now_v7();

    let url = |token| callback_url(&app, "assemblyai", recording, job, token);
    assert_eq!(post(url(None), None).await.0, 401, "no auth header");
    assert_eq!(
        post(url(None), Some("wrong".into())).await.0,
        401,
        "a wrong auth header"
    );
    assert_eq!(
        post(url(Some("forged".into())), header.clone()).await.0,
        401,
        "a forged token"
    );
    let bare = app.url(&format!(
        "/api/webhooks/transcription/assemblyai?recording={recording}&job={job}"
    ));
    assert_eq!(post(bare, header.clone()).await.0, 401, "no token");
    let swapped = test_job_tokens().token(&recording.to_string(), &other_job.to_string());
    assert_eq!(
        post(url(Some(swapped)), header.clone()).await.0,
        401,
        "another job's token"
    );
    for provider in ["whisper", "nope"] {
        let (status, _) = post(
            callback_url(&app, provider, recording, job, None),
            header.clone(),
        )
        .await;
        assert_eq!(status, 404, "{provider}");
    }

    // A job we minted a token for but no longer know (deleted since): 2xx, so retries stop.
    let gone = callback_url(&app, "assemblyai", recording, other_job, None);
    let gone_header = Some(test_job_tokens().header_value(&other_job.to_string()));
    assert_eq!(
        post(gone, gone_header).await,
        (200, json!({"result": "ignored"}))
    );

    assert_eq!(
        post(url(None), header.clone()).await,
        (200, json!({"result": "accepted"}))
    );
    assert_eq!(
        post(url(None), header).await,
        (200, json!({"result": "duplicate"}))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deepgram_results_are_stored_for_the_activity_and_bad_ones_refused() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let (recording, job) = job(&ctx, &app, "hooks-dg@example.com", "deepgram").await;
    let url = callback_url(&app, "deepgram", recording, job, None);
    let result = json!({"metadata": {"request_id": "prov-1", "duration": 2.0},
        "results": {"channels": [{"alternatives": [{"transcript": "Hi.", "words": [
            {"word": "hi", "punctuated_word": "Hi.", "start": 0.1, "end": 0.4, "confidence": 0.9, "speaker": 0}]}]}]}})
    .to_string();
    for bad in [&result[..result.len() / 2], "{}", "[1,2]"] {
        let r = app
            .http
            .post(&url)
            .body(bad.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
    let r = app
        .http
        .post(&url)
        .body(result.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let stored: Value = sqlx::query_scalar("SELECT payload FROM transcription_deliveries")
        .fetch_one(&ctx.owner_pool)
        .await
        .unwrap();
    assert_eq!(
        stored["results"]["channels"][0]["alternatives"][0]["transcript"],
        "Hi."
    );
    let other_id = result.replace("prov-1", "prov-2");
    let r = app.http.post(&url).body(other_id).send().await.unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["result"],
        "ignored",
        "not this job's provider ID"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn our_outages_answer_5xx_so_the_provider_retries() {
    let ctx = TestContext::new().await;
    let healthy = TestApp::spawn(&ctx).await;
    let (recording, job) = job(&ctx, &healthy, "hooks-down@example.com", "deepgram").await;
    let body = r#"{"request_id":"prov-1","err_code":"INVALID_AUDIO","err_msg":"could not decode"}"#;

    // Temporal down: the delivery is stored, but unsignalled, and the answer is 503.
    let temporal = mediadocs_tests::temporal::TemporalServer::start()
        .await
        .unwrap();
    let client = mediadocs_store::connect::temporal(&temporal.settings("unused"), "down-test")
        .await
        .unwrap();
    let no_temporal = TestApp::spawn_on(ctx.api_settings(), ctx.pool.clone(), client).await;
    drop(temporal);
    let url = callback_url(&no_temporal, "deepgram", recording, job, None);
    let r = no_temporal.http.post(&url).body(body).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let signalled: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT signalled_at FROM transcription_deliveries")
            .fetch_one(&ctx.owner_pool)
            .await
            .unwrap();
    assert_eq!(signalled, None);
    // The provider's retry reaches a healthy instance: signalled now, not taken as a duplicate.
    let retry = healthy
        .http
        .post(callback_url(&healthy, "deepgram", recording, job, None))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(retry.json::<Value>().await.unwrap()["result"], "accepted");

    // PostgreSQL unreachable: 5xx, never 4xx.
    let mut settings = ctx.api_settings();
    settings.database.url =
        format!("postgres://nobody@127.0.0.1:{}/none", wait::free_port()).into();
    let dead_pool = mediadocs_store::connect::postgres(&settings.database).unwrap();
    let no_db = TestApp::spawn_with(&ctx, settings, dead_pool).await;
    let r = no_db
        .http
        .post(callback_url(&no_db, "deepgram", recording, job, None))
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_server_error(), "{}", r.status());
}
