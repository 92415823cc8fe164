//! Our transcription clients against the simulators' wire protocols: AssemblyAI's API
//! (with its echoed auth header), Deepgram's callback API, Standard Webhooks signatures,
//! and Whisper's `verbose_json`.

use std::{sync::Arc, time::Duration};

use axum::{Router, body::Bytes, http::HeaderMap, routing::post};
use mediadocs_dev::{
    openai::OpenAiSimulator,
    transcription::{Knobs, Options, TranscriptionSimulator},
};
use mediadocs_providers::{
    transcription::{
        CallbackStatus, JobState, Provider, Segment, Submission, Transcript, TranscriptionError,
        TranscriptionSettings, deepgram, parse_callback, whisper::WhisperClient,
    },
    webhook::standard::{self, Secret},
};
use tokio::sync::mpsc;

fn sidecar() -> Transcript {
    Transcript {
        language: Some("en".into()),
        duration_ms: Some(9_000),
        segments: vec![
            Segment {
                start_ms: 0,
                end_ms: 4_000,
                text: "Ticket OPS-1234 is blocked.".into(),
                speaker: Some("A".into()),
                confidence: Some(0.9),
            },
            Segment {
                start_ms: 4_500,
                end_ms: 9_000,
                text: "I will unblock it today.".into(),
                speaker: Some("B".into()),
                confidence: Some(0.8),
            },
        ],
    }
}

/// Serves `media` at a URL (the stand-in for a presigned S3 GET) and records callbacks.
struct Endpoints {
    base: String,
    callbacks: mpsc::UnboundedReceiver<(HeaderMap, Bytes)>,
}

async fn endpoints(media: Vec<u8>) -> Endpoints {
    let (tx, callbacks) = mpsc::unbounded_channel();
    let media = Arc::new(media);
    let router = Router::new()
        .route(
            "/audio",
            axum::routing::get(move || {
                let media = media.clone();
                async move { media.as_ref().clone() }
            }),
        )
        .route(
            "/callback",
            post(move |headers: HeaderMap, body: Bytes| {
                let _ = tx.send((headers, body));
                async { "ok" }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Endpoints { base, callbacks }
}

fn settings(provider: Provider, base_url: &str, key: Option<&str>) -> TranscriptionSettings {
    TranscriptionSettings {
        provider,
        base_url: base_url.parse().unwrap(),
        api_key: key.map(|k| k.to_owned().into()),
        model: "whisper-1".into(),
        timeout: Duration::from_secs(5),
        webhook_public_url: "http://unused.invalid".parse().unwrap(),
    }
}

async fn next_callback(e: &mut Endpoints) -> (HeaderMap, Bytes) {
    tokio::time::timeout(Duration::from_secs(10), e.callbacks.recv())
        .await
        .expect("a callback within 10 s")
        .expect("the callback channel is open")
}

#[tokio::test]
async fn assemblyai_submit_callback_and_fetch() {
    let media = b"an AssemblyAI test recording".repeat(100);
    let mut e = endpoints(media.clone()).await;
    let sim = TranscriptionSimulator::start(
        "127.0.0.1:0",
        Options {
            api_key: Some("aai-key".into()),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    sim.register(&media, sidecar());
    let client = mediadocs_providers::transcription::async_transcriber(&settings(
        Provider::AssemblyAi,
        &sim.base_url(),
        Some("aai-key"),
    ))
    .unwrap();

    let id = client
        .submit(&Submission {
            audio_url: &format!("{}/audio", e.base),
            callback_url: &format!("{}/callback", e.base),
            callback_header: Some(("x-mediadocs-webhook-secret", "per-job-value")),
            language: None,
        })
        .await
        .unwrap();
    let (headers, body) = next_callback(&mut e).await;
    assert_eq!(headers["x-mediadocs-webhook-secret"], "per-job-value");
    let callback = parse_callback(Provider::AssemblyAi, &body).unwrap();
    assert_eq!(
        (callback.provider_job_id.as_str(), callback.status),
        (id.as_str(), CallbackStatus::Completed)
    );
    assert_eq!(
        client.fetch(&id).await.unwrap(),
        JobState::Completed(sidecar())
    );

    // A wrong key is the provider's refusal, not an outage.
    let wrong = mediadocs_providers::transcription::async_transcriber(&settings(
        Provider::AssemblyAi,
        &sim.base_url(),
        Some("nope"),
    ))
    .unwrap();
    assert!(matches!(
        wrong.fetch(&id).await,
        Err(TranscriptionError::Rejected { status: 401, .. })
    ));
    // An unknown transcript is a lost job, to submit again; a 500 is retryable; a truncated
    // body is not.
    assert!(matches!(
        client.fetch("missing").await,
        Ok(JobState::Lost(reason)) if reason.contains("missing")
    ));
    sim.set_knobs(Knobs {
        submit_500: 1,
        truncated_polls: 1,
        ..Knobs::default()
    });
    let outage = client
        .submit(&Submission {
            audio_url: "http://x.invalid/a",
            callback_url: "http://x.invalid/c",
            callback_header: None,
            language: None,
        })
        .await
        .unwrap_err();
    assert!(outage.is_retryable(), "{outage}");
    let truncated = client.fetch(&id).await.unwrap_err();
    assert!(
        matches!(truncated, TranscriptionError::Malformed { .. }) && !truncated.is_retryable(),
        "{truncated}"
    );
}

#[tokio::test]
async fn selfhosted_callbacks_carry_standard_webhook_signatures() {
    let media = b"a self-hosted test recording".repeat(100);
    let mut e = endpoints(media.clone()).await;
    let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let sim = TranscriptionSimulator::start(
        "127.0.0.1:0",
        Options {
            signing_secret: Some(secret.clone()),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    sim.register(&media, sidecar());
    sim.set_knobs(Knobs {
        duplicate_callbacks: 1,
        ..Knobs::default()
    });
    let client = mediadocs_providers::transcription::async_transcriber(&settings(
        Provider::SelfHosted,
        &sim.base_url(),
        None,
    ))
    .unwrap();
    let submission = Submission {
        audio_url: &format!("{}/audio", e.base),
        callback_url: &format!("{}/callback", e.base),
        callback_header: None,
        language: Some("en"),
    };
    client.submit(&submission).await.unwrap();
    let verify = |headers: &HeaderMap, body: &[u8], key: &Secret| {
        let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
        let signed = standard::Headers {
            id: h("webhook-id"),
            timestamp: h("webhook-timestamp"),
            signature: h("webhook-signature"),
        };
        standard::verify(
            std::slice::from_ref(key),
            signed,
            body,
            chrono::Utc::now().timestamp(),
        )
    };
    let (h1, b1) = next_callback(&mut e).await;
    let (h2, b2) = next_callback(&mut e).await;
    assert_eq!(verify(&h1, &b1, &secret), Ok(()));
    assert_eq!(verify(&h2, &b2, &secret), Ok(()));
    assert_eq!(
        h1["webhook-id"], h2["webhook-id"],
        "a duplicate is the same delivery"
    );

    sim.set_knobs(Knobs {
        bad_signature: true,
        ..Knobs::default()
    });
    client.submit(&submission).await.unwrap();
    let (h, b) = next_callback(&mut e).await;
    assert_eq!(
        verify(&h, &b, &secret),
        Err(standard::SignatureError::NoMatch)
    );
}

#[tokio::test]
async fn deepgram_callbacks_carry_the_transcript() {
    let media = b"a Deepgram test recording".repeat(100);
    let mut e = endpoints(media.clone()).await;
    let sim = TranscriptionSimulator::start(
        "127.0.0.1:0",
        Options {
            api_key: Some("dg-key".into()),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    sim.register(&media, sidecar());
    let client = mediadocs_providers::transcription::async_transcriber(&settings(
        Provider::Deepgram,
        &sim.base_url(),
        Some("dg-key"),
    ))
    .unwrap();
    let id = client
        .submit(&Submission {
            audio_url: &format!("{}/audio", e.base),
            callback_url: &format!("{}/callback?token=abc", e.base),
            callback_header: None,
            language: None,
        })
        .await
        .unwrap();
    let (_, body) = next_callback(&mut e).await;
    assert_eq!(
        parse_callback(Provider::Deepgram, &body)
            .unwrap()
            .provider_job_id,
        id
    );
    let JobState::Completed(t) = deepgram::transcript_from_callback(&body).unwrap() else {
        panic!("completed")
    };
    assert_eq!(
        t.segments
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>(),
        ["Ticket OPS-1234 is blocked.", "I will unblock it today."]
    );
    assert_eq!(
        (t.segments[1].start_ms, t.segments[1].speaker.as_deref()),
        (4_500, Some("Speaker 1"))
    );
    assert!(matches!(
        client.fetch(&id).await,
        Err(TranscriptionError::Unsupported(_))
    ));

    // Audio the simulator cannot "decode" ends in an error callback.
    let mut e2 = endpoints(b"unknown audio".to_vec()).await;
    client
        .submit(&Submission {
            audio_url: &format!("{}/audio", e2.base),
            callback_url: &format!("{}/callback", e2.base),
            callback_header: None,
            language: None,
        })
        .await
        .unwrap();
    let (_, body) = next_callback(&mut e2).await;
    assert_eq!(
        parse_callback(Provider::Deepgram, &body).unwrap().status,
        CallbackStatus::Failed
    );
    assert!(matches!(
        deepgram::transcript_from_callback(&body).unwrap(),
        JobState::Failed(_)
    ));
}

/// 16 kHz mono 16-bit PCM silence.
fn wav(seconds: u32) -> Vec<u8> {
    mediadocs_tests::media::wav(seconds * 16_000, 0)
}

#[tokio::test]
async fn whisper_verbose_json_segments() {
    let sim = OpenAiSimulator::start().await;
    let client = WhisperClient::new(&settings(
        Provider::Whisper,
        &sim.base_url(),
        Some("sk-test"),
    ));
    let chunk = client
        .transcribe("chunk-0.wav", wav(12).into(), Some("en"))
        .await
        .unwrap();
    assert!(!chunk.segments.is_empty());
    let last = chunk.segments.last().unwrap();
    assert!(last.end_ms <= 12_000 && last.end_ms > 9_000, "{last:?}");
    assert!(
        chunk
            .segments
            .windows(2)
            .all(|w| w[0].end_ms <= w[1].start_ms),
        "in order"
    );
    assert_eq!(sim.calls().transcription_requests, 1);

    let refused = client
        .transcribe("chunk-1.wav", b"not a wav".to_vec().into(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, TranscriptionError::Rejected { status: 400, .. }),
        "{refused}"
    );
    sim.set(|k| k.api_key = Some("sk-other".into()));
    let unauthorised = client
        .transcribe("chunk-2.wav", wav(1).into(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            unauthorised,
            TranscriptionError::Rejected { status: 401, .. }
        ),
        "{unauthorised}"
    );
}
