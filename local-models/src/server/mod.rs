//! The HTTP face: OpenAI's transcription, chat, embedding and model routes, AssemblyAI's
//! asynchronous transcripts, `/healthz` and Prometheus `/metrics`.

mod assemblyai;
mod audio_input;
mod chat;
mod embeddings;
mod error;
mod languages;
mod openai_audio;
pub mod queue;
mod transcribe;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, State},
    response::IntoResponse,
    routing::{get, post},
};
use mediadocs_providers::{
    embeddings::{Embedder, local::LocalEmbedder},
    webhook::standard::Secret,
};
use mediadocs_settings::local_models::LocalModelsLimits;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;

use crate::{llm::ChatModel, whisper::WhisperModel};
use queue::Queue;

/// The name OpenAI's clients send by default; served by whichever Whisper is loaded.
const WHISPER_ALIAS: &str = "whisper-1";
/// JSON bodies (chat, embeddings, job submissions): generous for long prompts, far from
/// what would hurt.
const JSON_BODY_LIMIT: usize = 8 << 20;

#[derive(Default)]
pub struct Models {
    pub whisper: Option<Arc<WhisperModel>>,
    pub chat: Option<Arc<ChatPool>>,
    pub embedder: Option<LocalEmbedder>,
}

/// One loaded copy of the chat model per generation slot: each decodes with its own KV
/// cache. A slot's holder takes a copy and gives it back.
pub struct ChatPool {
    id: String,
    idle: Mutex<Vec<ChatModel>>,
}

impl ChatPool {
    pub fn new(models: Vec<ChatModel>) -> Option<Arc<Self>> {
        let id = models.first()?.id().to_owned();
        Some(Arc::new(Self {
            id,
            idle: Mutex::new(models),
        }))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Called only by a slot's holder, so a copy is always idle.
    fn take(&self) -> ChatModel {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .expect("one model per generation slot")
    }

    fn give_back(&self, model: ChatModel) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(model);
    }
}

pub struct AppState {
    pub models: Models,
    pub limits: LocalModelsLimits,
    transcriptions: Arc<Queue>,
    generations: Arc<Queue>,
    embeddings: Arc<Queue>,
    jobs: assemblyai::Jobs,
    /// Fetches audio and delivers callbacks; follows no redirects, so a URL cannot bounce
    /// the server somewhere it was not sent.
    http: reqwest::Client,
    webhook_secret: Option<Secret>,
    metrics: Option<PrometheusHandle>,
}

impl AppState {
    pub fn new(
        models: Models,
        limits: LocalModelsLimits,
        webhook_secret: Option<Secret>,
        metrics: Option<PrometheusHandle>,
    ) -> Arc<Self> {
        let depth = limits.queue_depth;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .build()
            .expect("a default reqwest client builds");
        Arc::new(Self {
            transcriptions: Queue::new(
                "transcription",
                limits.transcription_concurrency,
                depth,
                Duration::from_secs(60),
            ),
            generations: Queue::new(
                "generation",
                limits.generation_concurrency,
                depth,
                Duration::from_secs(30),
            ),
            embeddings: Queue::new("embedding", 1, depth, Duration::from_secs(1)),
            models,
            limits,
            jobs: assemblyai::Jobs::default(),
            http,
            webhook_secret,
            metrics,
        })
    }

    fn serves_whisper(&self, name: &str) -> bool {
        self.models
            .whisper
            .as_ref()
            .is_some_and(|w| name == w.name() || name == WHISPER_ALIAS)
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    let audio_limit = usize::try_from(state.limits.max_audio_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(1 << 20);
    let json_routes = Router::new()
        .route("/v1/chat/completions", post(chat::completions))
        .route("/v1/embeddings", post(embeddings::embeddings))
        .route("/v2/transcript", post(assemblyai::submit))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT));
    Router::new()
        .route(
            "/v1/audio/transcriptions",
            post(openai_audio::transcriptions).layer(DefaultBodyLimit::max(audio_limit)),
        )
        .merge(json_routes)
        .route("/v2/transcript/{id}", get(assemblyai::fetch))
        .route("/v1/models", get(models))
        .route("/healthz", get(healthz))
        .route("/metrics", get(render_metrics))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

fn served(state: &AppState) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    if let Some(w) = &state.models.whisper {
        out.push((w.name().to_owned(), "speech-to-text"));
        out.push((WHISPER_ALIAS.to_owned(), "speech-to-text"));
    }
    if let Some(c) = &state.models.chat {
        out.push((c.id().to_owned(), "chat"));
    }
    if let Some(e) = &state.models.embedder {
        out.push((e.model().to_owned(), "embeddings"));
    }
    out
}

async fn models(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let data: Vec<_> = served(&state)
        .into_iter()
        .map(|(id, role)| json!({ "id": id, "object": "model", "created": 0, "owned_by": "mediadocs-local-models", "role": role }))
        .collect();
    Json(json!({ "object": "list", "data": data }))
}

async fn healthz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let models: serde_json::Map<_, _> = served(&state)
        .into_iter()
        .map(|(id, role)| (id, role.into()))
        .collect();
    Json(json!({
        "status": "ok",
        "models": models,
        "queues": {
            "transcription": state.transcriptions.depth(),
            "generation": state.generations.depth(),
            "embedding": state.embeddings.depth(),
        },
    }))
}

async fn render_metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state
            .metrics
            .as_ref()
            .map(PrometheusHandle::render)
            .unwrap_or_default(),
    )
}
