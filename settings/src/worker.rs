//! Everything the worker reads at start-up.

use crate::{
    ConfigError, DatabaseSettings, S3Settings, TemporalSettings,
    documents::DocumentSettings,
    embeddings::EmbeddingSettings,
    env,
    llm::LlmSettings,
    telemetry::LogFormat,
    transcription::{
        ChunkedTranscriptionSettings, TranscriptionSettings, TranscriptionTiming, WebhookTokenKey,
    },
};

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// `LOG_FORMAT`: `text` (default) or `json`.
    pub log_format: LogFormat,
    pub database: DatabaseSettings,
    pub temporal: TemporalSettings,
    pub s3: S3Settings,
    pub transcription: TranscriptionSettings,
    /// Mints the callback tokens the API checks: the API must have the same key.
    pub token_key: WebhookTokenKey,
    pub timing: TranscriptionTiming,
    pub chunking: ChunkedTranscriptionSettings,
    pub llm: LlmSettings,
    pub documents: DocumentSettings,
    pub embeddings: EmbeddingSettings,
}

impl WorkerSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            log_format: env::var_or("LOG_FORMAT", "text", "`text` or `json`")?,
            database: DatabaseSettings::from_env()?,
            temporal: TemporalSettings::from_env()?,
            s3: S3Settings::from_env()?,
            transcription: TranscriptionSettings::from_env()?,
            token_key: WebhookTokenKey::from_env()?,
            timing: TranscriptionTiming::from_env()?,
            chunking: ChunkedTranscriptionSettings::from_env()?,
            llm: LlmSettings::from_env()?,
            documents: DocumentSettings::from_env()?,
            embeddings: EmbeddingSettings::from_env()?,
        })
    }
}
