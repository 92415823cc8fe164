//! AssemblyAI's asynchronous API, as the project's `selfhosted` provider speaks it:
//! `POST /v2/transcript` takes an `audio_url` and a `webhook_url`; the server fetches and
//! transcribes the audio in the background and calls the webhook with
//! `{"transcript_id", "status"}`, signed with Standard Webhooks (and with the
//! `webhook_auth_header_*` header when one was given); `GET /v2/transcript/{id}` answers the
//! transcript. Jobs live in memory: after a restart a job's ID answers 404, which tells the
//! caller to submit again.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use mediadocs_providers::webhook::standard;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    AppState, audio_input, languages,
    queue::Ticket,
    transcribe::{self, Cancel, Failure},
};
use crate::whisper::{TranscribeOptions, Transcript};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Queued,
    Processing,
    Completed,
    Error,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Error => "error",
        }
    }
}

struct Job {
    status: Status,
    audio_url: String,
    transcript: Option<Transcript>,
    error: Option<String>,
    finished: Option<Instant>,
}

#[derive(Default)]
pub struct Jobs(Mutex<HashMap<String, Job>>);

impl Jobs {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Job>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn set(&self, id: &str, f: impl FnOnce(&mut Job)) {
        self.with(|jobs| jobs.get_mut(id).map(f));
    }

    /// Finished jobs older than `ttl` are forgotten, so memory stays bounded.
    fn prune(&self, ttl: Duration) {
        self.with(|jobs| jobs.retain(|_, j| j.finished.is_none_or(|t| t.elapsed() < ttl)));
    }
}

/// AssemblyAI's error shape: `{"error": "…"}`.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

#[derive(Deserialize)]
struct Submit {
    audio_url: String,
    webhook_url: Option<String>,
    webhook_auth_header_name: Option<String>,
    webhook_auth_header_value: Option<String>,
    language_code: Option<String>,
}

struct Callback {
    url: String,
    header: Option<(String, String)>,
}

fn http_url(value: &str, field: &str) -> Result<(), Box<Response>> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(()),
        _ => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("{field} must be an http(s) URL"),
        ))),
    }
}

pub async fn submit(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Some(whisper) = state.models.whisper.clone() else {
        return error(
            StatusCode::NOT_FOUND,
            "this server has no speech-to-text model",
        );
    };
    let request: Submit = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid request body: {e}"),
            );
        }
    };
    if let Err(r) = http_url(&request.audio_url, "audio_url") {
        return *r;
    }
    if let Some(url) = &request.webhook_url
        && let Err(r) = http_url(url, "webhook_url")
    {
        return *r;
    }
    let header = match (
        request.webhook_auth_header_name,
        request.webhook_auth_header_value,
    ) {
        (Some(name), Some(value)) => {
            if http::HeaderName::try_from(name.as_str()).is_err()
                || http::HeaderValue::try_from(value.as_str()).is_err()
            {
                return error(
                    StatusCode::BAD_REQUEST,
                    "webhook_auth_header_name/value is not a valid header",
                );
            }
            Some((name, value))
        }
        (None, None) => None,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "webhook_auth_header_name and webhook_auth_header_value go together",
            );
        }
    };
    let language = match request
        .language_code
        .as_deref()
        .map(languages::code)
        .transpose()
    {
        Ok(l) => l,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.message),
    };
    if let Some(l) = &language
        && !whisper.is_multilingual()
        && l != "en"
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!("{} transcribes English only", whisper.name()),
        );
    }
    let ticket = match state.transcriptions.admit() {
        Ok(t) => t,
        Err(full) => {
            return super::error::ApiError::busy("transcription", full.retry_after).into_response();
        }
    };
    state.jobs.prune(state.limits.job_ttl);
    let id = uuid::Uuid::new_v4().simple().to_string();
    state.jobs.with(|jobs| {
        jobs.insert(
            id.clone(),
            Job {
                status: Status::Queued,
                audio_url: request.audio_url.clone(),
                transcript: None,
                error: None,
                finished: None,
            },
        )
    });
    let callback = request.webhook_url.map(|url| Callback { url, header });
    let options = TranscribeOptions {
        language,
        prompt: None,
    };
    tokio::spawn(run_job(
        state.clone(),
        ticket,
        id.clone(),
        request.audio_url.clone(),
        options,
        callback,
    ));
    tracing::info!(transcript_id = %id, "transcript queued");
    Json(json!({ "id": id, "status": "queued", "audio_url": request.audio_url })).into_response()
}

async fn run_job(
    state: Arc<AppState>,
    ticket: Ticket,
    id: String,
    audio_url: String,
    options: TranscribeOptions,
    callback: Option<Callback>,
) {
    let outcome = transcribe_url(&state, &ticket, &id, &audio_url, options).await;
    drop(ticket);
    let status = match outcome {
        Ok(transcript) => {
            state.jobs.set(&id, |job| {
                job.status = Status::Completed;
                job.transcript = Some(transcript);
                job.finished = Some(Instant::now());
            });
            Status::Completed
        }
        Err(e) => {
            tracing::warn!(transcript_id = %id, error = %e, "transcript failed");
            state.jobs.set(&id, |job| {
                job.status = Status::Error;
                job.error = Some(e.to_string());
                job.finished = Some(Instant::now());
            });
            Status::Error
        }
    };
    if let Some(callback) = callback {
        deliver(&state, &callback, &id, status).await;
    }
}

async fn transcribe_url(
    state: &Arc<AppState>,
    ticket: &Ticket,
    id: &str,
    audio_url: &str,
    options: TranscribeOptions,
) -> Result<Transcript, Failure> {
    let audio = audio_input::fetch(
        &state.http,
        audio_url,
        state.limits.max_audio_bytes,
        state.limits.request_timeout,
    )
    .await?;
    state.jobs.set(id, |job| job.status = Status::Processing);
    transcribe::run(state, ticket, audio, options, Cancel::default()).await
}

/// Attempts per callback, with doubling pauses from one second: about four minutes in all.
/// The caller also polls, so a callback that never lands delays the result, not loses it.
const ATTEMPTS: u32 = 8;

async fn deliver(state: &AppState, callback: &Callback, id: &str, status: Status) {
    let body = json!({ "transcript_id": id, "status": status.as_str() }).to_string();
    // One ID for every attempt: a retry is the same delivery, and receivers drop repeats.
    let delivery_id = format!("msg_{id}");
    for attempt in 0..ATTEMPTS {
        let mut request = state
            .http
            .post(&callback.url)
            .timeout(Duration::from_secs(30))
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some((name, value)) = &callback.header {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(secret) = &state.webhook_secret {
            let timestamp = chrono_now();
            request = request
                .header(standard::ID_HEADER, &delivery_id)
                .header(standard::TIMESTAMP_HEADER, timestamp.to_string())
                .header(
                    standard::SIGNATURE_HEADER,
                    secret.sign(&delivery_id, timestamp, body.as_bytes()),
                );
        }
        match request.send().await {
            Ok(r) if r.status().is_success() => {
                metrics::counter!("local_models_callbacks_total", "outcome" => "delivered")
                    .increment(1);
                return;
            }
            Ok(r) => {
                tracing::warn!(transcript_id = %id, status = %r.status(), attempt, "callback refused")
            }
            Err(e) => {
                tracing::warn!(transcript_id = %id, error = %e, attempt, "callback not delivered")
            }
        }
        tokio::time::sleep(Duration::from_secs(1 << attempt.min(6))).await;
    }
    metrics::counter!("local_models_callbacks_total", "outcome" => "abandoned").increment(1);
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub async fn fetch(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let body = state
        .jobs
        .with(|jobs| jobs.get(&id).map(|job| to_json(&id, job)));
    match body {
        Some(body) => Json(body).into_response(),
        None => error(StatusCode::NOT_FOUND, "Transcript not found"),
    }
}

/// AssemblyAI's transcript object; times in milliseconds. Whisper's segments become
/// utterances (without speakers: this server does not diarise) and their words, spread
/// evenly over the segment, the `words` list.
fn to_json(id: &str, job: &Job) -> Value {
    let mut body = json!({
        "id": id,
        "status": job.status.as_str(),
        "audio_url": job.audio_url,
        "error": job.error,
    });
    if let Some(t) = &job.transcript {
        let ms = |s: f64| (s * 1000.0).round() as i64;
        let utterances: Vec<Value> = t
            .segments
            .iter()
            .filter(|s| !s.text.trim().is_empty())
            .map(|s| {
                json!({
                    "text": s.text.trim(),
                    "start": ms(s.start),
                    "end": ms(s.end),
                    "confidence": s.avg_logprob.exp().clamp(0.0, 1.0),
                    "speaker": null,
                })
            })
            .collect();
        let text = t
            .segments
            .iter()
            .map(|s| s.text.trim())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        body["text"] = text.into();
        body["language_code"] = t.language.clone().into();
        body["audio_duration"] = t.duration.into();
        body["utterances"] = utterances.into();
        body["words"] = t
            .segments
            .iter()
            .flat_map(|s| spread_words(s.start, s.end, &s.text))
            .collect::<Vec<_>>()
            .into();
    }
    body
}

/// Whisper times segments, not words: each word gets an even share of its segment, which
/// is what a reader of `words` can rely on here (to the segment, not to the word).
fn spread_words(start: f64, end: f64, text: &str) -> Vec<Value> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let share = (end - start).max(0.0) / words.len().max(1) as f64;
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let from = start + share * i as f64;
            json!({
                "text": w,
                "start": (from * 1000.0).round() as i64,
                "end": ((from + share) * 1000.0).round() as i64,
                "confidence": null,
                "speaker": null,
            })
        })
        .collect()
}
