//! Text embeddings: an OpenAI-compatible endpoint, or all-MiniLM-L6-v2 run in-process.
//!
//! Vectors of different models never mix, so every vector is stored with [`Embedder::model`]
//! and searched only against vectors of the same model.

pub mod local;
pub mod openai;

use std::sync::Arc;

/// Turns passages (or a query) into vectors of [`Embedder::dimension`] floats.
#[async_trait::async_trait]
pub trait Embedder: Send + Sync {
    /// The model's stable name, stored beside each vector.
    fn model(&self) -> &str;
    fn dimension(&self) -> usize;
    /// One vector per text, in order. Implementations batch internally.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbeddingError>;
}

#[derive(Debug, thiserror::Error)]
pub enum EmbeddingError {
    /// The provider could not be reached, or answered 429/5xx after our retries: try later.
    #[error("embedding provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request (bad key, bad input, unknown model): retrying won't help.
    #[error("embedding request rejected: {0}")]
    Rejected(String),
    /// The answer did not have the shape or dimension we asked for.
    #[error("malformed embedding response: {0}")]
    Malformed(String),
    /// The local model could not be loaded or run.
    #[error("local embedding model: {0}")]
    Model(String),
}

impl EmbeddingError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

pub use mediadocs_settings::embeddings::EmbeddingSettings;

/// Builds the configured embedder. Loading the local model reads ~90 MB from disk.
pub fn from_settings(settings: &EmbeddingSettings) -> Result<Arc<dyn Embedder>, EmbeddingError> {
    match settings {
        EmbeddingSettings::Local(s) => Ok(Arc::new(local::LocalEmbedder::load(s)?)),
        EmbeddingSettings::OpenAi(s) => Ok(Arc::new(openai::OpenAiEmbedder::new(s)?)),
    }
}
