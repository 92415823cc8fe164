//! A simulator of the OpenAI HTTP API, for tests and the dev stack. It is not OpenAI and
//! runs no model: every answer is computed from the request, so the same request always
//! gets the same answer, and it says so (model names start with `simulated-`).
//!
//! It serves what mediadocs uses:
//! - `POST /v1/chat/completions`, whole or streamed as server-sent events, in OpenAI's chunk
//!   format (with the final usage chunk when `stream_options.include_usage` is set). The
//!   reply is Markdown quoting the start of the last user message; a token is a
//!   whitespace-separated word.
//! - `POST /v1/embeddings`: a hashed bag of words, not a model. Each lowercase word adds ±1
//!   to one of `dimensions` buckets, then the vector is L2-normalised. Texts sharing words
//!   come out similar, which is enough to exercise search, not to judge it.
//! - `POST /v1/audio/transcriptions`: reads the uploaded WAV's header for its duration and
//!   answers `verbose_json` with one segment per 5 s, its text taken from a fixed script.
//!
//! [`Knobs`] inject the failures real providers produce (429 with `Retry-After`, 500,
//! malformed JSON, empty completions, content-policy refusals, 401, streams cut short) and
//! latency; [`Calls`] counts what arrived. In process, use [`OpenAiSimulator::start`]; the
//! `mediadocs-openai-simulator` binary serves the same, with `POST /_simulator/knobs`
//! (a partial [`Knobs`] JSON, merged) and `GET /_simulator/calls`.

mod audio;
mod chat;
mod embeddings;
mod sse;

pub use audio::wav_duration;
pub use embeddings::hashed_bag_of_words;

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering::SeqCst},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Behaviour to simulate. `*_next` counters apply to chat calls and count down as they fire;
/// when several are set, the first in declaration order fires first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Knobs {
    /// Before any answer, every endpoint.
    pub base_latency_ms: u64,
    /// After the base latency, before the first token (before the whole answer, unstreamed).
    pub time_to_first_token_ms: u64,
    /// Between tokens of a stream; an unstreamed answer waits this long per token too.
    pub inter_token_delay_ms: u64,
    /// The next N chat calls answer 429 with `Retry-After: retry_after_secs`.
    pub rate_limit_next: u32,
    pub retry_after_secs: u64,
    /// The next N chat calls answer 500.
    pub server_error_next: u32,
    /// The next N chat calls answer 400 `content_policy_violation`.
    pub content_policy_next: u32,
    /// The next N chat calls answer 200 with JSON cut off mid-object.
    pub malformed_next: u32,
    /// The next N chat calls answer with an empty completion.
    pub empty_next: u32,
    /// When set, any other bearer token gets 401, on every endpoint.
    pub api_key: Option<String>,
    /// Streams close the connection after this many tokens, without `[DONE]`.
    pub drop_stream_after_tokens: Option<u32>,
    /// Pads (from the script) or cuts every reply to exactly this many words.
    pub reply_words: Option<u32>,
    /// Every chat reply is this text (cut into word tokens) instead of the computed one;
    /// `reply_words` still applies on top.
    pub reply_text: Option<String>,
    /// Embedding vectors of this length whatever was asked, to exercise dimension checks.
    pub embedding_dimension: Option<usize>,
    /// Return embeddings in reverse order (with correct `index`), as servers may.
    pub reverse_embeddings: bool,
}

/// What the simulator has received, in a snapshot from [`OpenAiSimulator::calls`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calls {
    pub chat_requests: u64,
    pub streaming_requests: u64,
    /// Stream chunks carrying a token, plus the tokens of unstreamed answers.
    pub tokens_sent: u64,
    /// Streams whose client went away before `[DONE]` (the response body was dropped).
    pub streams_abandoned: u64,
    pub embeddings_requests: u64,
    pub embedding_inputs: u64,
    pub transcription_requests: u64,
    pub in_flight: u64,
}

#[derive(Debug, Default)]
struct Counters {
    chat_requests: AtomicU64,
    streaming_requests: AtomicU64,
    tokens_sent: AtomicU64,
    streams_abandoned: AtomicU64,
    embeddings_requests: AtomicU64,
    embedding_inputs: AtomicU64,
    transcription_requests: AtomicU64,
    in_flight: AtomicU64,
}

#[derive(Debug, Default)]
struct Shared {
    knobs: Arc<Mutex<Knobs>>,
    counters: Counters,
    /// The messages of the latest chat request, as (role, text).
    last_chat: Mutex<Vec<(String, String)>>,
}

type Sim = State<Arc<Shared>>;

/// Counts a request as in flight until dropped; streams carry it until their body ends.
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.counters.in_flight.fetch_sub(1, SeqCst);
    }
}

impl Shared {
    fn knobs(&self) -> MutexGuard<'_, Knobs> {
        self.knobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn in_flight(self: &Arc<Self>) -> InFlight {
        self.counters.in_flight.fetch_add(1, SeqCst);
        InFlight(self.clone())
    }

    /// 401 when a key is configured and the request does not carry it.
    fn deny(&self, headers: &HeaderMap) -> Option<Response> {
        let expected = self.knobs().api_key.clone()?;
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        (given != Some(expected.as_str())).then(|| {
            api_error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                Some("invalid_api_key"),
                "Incorrect API key provided (simulated).",
            )
        })
    }
}

/// An error in OpenAI's shape: `{"error": {message, type, param, code}}`.
fn api_error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    (status, Json(body)).into_response()
}

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// A running simulator. Dropping the handle stops it.
pub struct OpenAiSimulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl OpenAiSimulator {
    /// Binds 127.0.0.1 on a free port and serves on the current tokio runtime.
    pub async fn start() -> Self {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("binding the OpenAI simulator to a free port")
    }

    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let app = router(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "OpenAI simulator stopped");
            }
        });
        Ok(Self {
            addr,
            shared,
            server,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>/v1`, the form OpenAI clients expect as their base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn knobs(&self) -> &Arc<Mutex<Knobs>> {
        &self.shared.knobs
    }

    /// Changes the knobs in place, e.g. `sim.set(|k| k.rate_limit_next = 2)`.
    pub fn set(&self, change: impl FnOnce(&mut Knobs)) {
        change(&mut self.shared.knobs());
    }

    pub fn calls(&self) -> Calls {
        calls(&self.shared)
    }

    /// The messages (role, text) of the latest chat request: what the prompt said.
    pub fn last_chat_request(&self) -> Vec<(String, String)> {
        self.shared
            .last_chat
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Serves until the task fails; for the binary.
    pub async fn wait(mut self) {
        let _ = (&mut self.server).await;
    }
}

impl Drop for OpenAiSimulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn calls(shared: &Shared) -> Calls {
    let c = &shared.counters;
    Calls {
        chat_requests: c.chat_requests.load(SeqCst),
        streaming_requests: c.streaming_requests.load(SeqCst),
        tokens_sent: c.tokens_sent.load(SeqCst),
        streams_abandoned: c.streams_abandoned.load(SeqCst),
        embeddings_requests: c.embeddings_requests.load(SeqCst),
        embedding_inputs: c.embedding_inputs.load(SeqCst),
        transcription_requests: c.transcription_requests.load(SeqCst),
        in_flight: c.in_flight.load(SeqCst),
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat::completions))
        .route("/v1/embeddings", post(embeddings::create))
        .route("/v1/audio/transcriptions", post(audio::transcribe))
        .route("/_simulator/knobs", get(get_knobs).post(merge_knobs))
        .route("/_simulator/calls", get(get_calls))
        // Uploaded recordings are larger than axum's 2 MB default.
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024 * 1024))
        .with_state(shared)
}

async fn get_knobs(State(sim): Sim) -> Json<Knobs> {
    Json(sim.knobs().clone())
}

/// Merges a partial `Knobs` object into the current knobs.
async fn merge_knobs(State(sim): Sim, Json(patch): Json<Value>) -> Response {
    let mut knobs = sim.knobs();
    let mut merged = serde_json::to_value(&*knobs).expect("knobs serialise");
    let (Value::Object(target), Value::Object(patch)) = (&mut merged, patch) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            "expected a JSON object",
        );
    };
    target.extend(patch);
    match serde_json::from_value::<Knobs>(merged) {
        Ok(new) => {
            *knobs = new.clone();
            Json(new).into_response()
        }
        Err(e) => api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            &e.to_string(),
        ),
    }
}

async fn get_calls(State(sim): Sim) -> Json<Calls> {
    Json(calls(&sim))
}

/// FNV-1a: a hash that is the same in every build, unlike std's `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The words replies are padded with and transcripts are made of.
const SCRIPT: [&str; 12] = [
    "Welcome everyone to the quarterly planning review.",
    "First we will look at what shipped since the last meeting.",
    "The upload pipeline now resumes interrupted transfers on its own.",
    "Transcription runs in the background and no longer blocks the editor.",
    "Search results point at the exact minute where a topic was discussed.",
    "Next quarter we want to cut the time from upload to document in half.",
    "That means streaming the summary while the transcript is still arriving.",
    "We also need better handling of recordings with several speakers.",
    "Support asked for a clearer message when an upload is rejected.",
    "Let us agree on owners for each of these items before we finish.",
    "Please send your estimates by the end of the week.",
    "Thanks everyone, that is all for today.",
];
