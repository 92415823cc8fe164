//! What chat handlers share: the embedder, the LLM client and the per-user rate limiter.
//!
//! The clients are built on first use, so that `AppState::new` stays infallible and tests
//! that never chat never load a model; `main` calls [`ChatState::ready`] at start-up, so a
//! server with a missing model or a bad LLM setting stops at once instead of at the first
//! question, and loads the ~90 MB local model exactly once.

use std::sync::Arc;

use mediadocs_providers::{
    embeddings::{self, Embedder},
    llm::ChatClient,
};
use tokio::sync::OnceCell;

use super::{ChatSettings, limits::ChatLimiter};
use crate::error::ApiError;

#[derive(Clone)]
pub struct ChatState {
    inner: Arc<Inner>,
}

struct Inner {
    settings: ChatSettings,
    embedder: OnceCell<Arc<dyn Embedder>>,
    llm: OnceCell<ChatClient>,
    limiter: ChatLimiter,
}

impl ChatState {
    pub fn new(settings: ChatSettings) -> Self {
        let limiter = ChatLimiter::new(settings.requests_per_minute, settings.burst);
        Self {
            inner: Arc::new(Inner {
                settings,
                embedder: OnceCell::new(),
                llm: OnceCell::new(),
                limiter,
            }),
        }
    }

    pub fn settings(&self) -> &ChatSettings {
        &self.inner.settings
    }

    pub fn limiter(&self) -> &ChatLimiter {
        &self.inner.limiter
    }

    /// Builds both clients now; an error names what is misconfigured.
    pub async fn ready(&self) -> anyhow::Result<()> {
        self.try_embedder().await?;
        self.try_llm().await?;
        Ok(())
    }

    /// The embedder, or 503 when it cannot be built (logged by the error's response).
    pub async fn embedder(&self) -> Result<Arc<dyn Embedder>, ApiError> {
        self.try_embedder()
            .await
            .map_err(|e| unavailable("embeddings", e))
    }

    pub async fn llm(&self) -> Result<ChatClient, ApiError> {
        self.try_llm().await.map_err(|e| unavailable("llm", e))
    }

    async fn try_embedder(&self) -> anyhow::Result<Arc<dyn Embedder>> {
        let settings = self.inner.settings.embeddings.clone();
        let embedder = self
            .inner
            .embedder
            .get_or_try_init(|| async move {
                // Reading and building the local model is seconds of blocking work.
                tokio::task::spawn_blocking(move || embeddings::from_settings(&settings))
                    .await
                    .map_err(anyhow::Error::from)?
                    .map_err(anyhow::Error::from)
            })
            .await?;
        Ok(embedder.clone())
    }

    async fn try_llm(&self) -> anyhow::Result<ChatClient> {
        let settings = &self.inner.settings.llm;
        let llm = self
            .inner
            .llm
            .get_or_try_init(|| async { ChatClient::new(settings) })
            .await?;
        Ok(llm.clone())
    }
}

fn unavailable(dependency: &'static str, error: anyhow::Error) -> ApiError {
    ApiError::Unavailable {
        dependency,
        detail: format!("{error:#}"),
    }
}
