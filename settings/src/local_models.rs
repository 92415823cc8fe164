//! The local model server's settings (`mediadocs-local-models`).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use crate::{
    api::WebhookSecret,
    embeddings::LocalEmbedderSettings,
    env::{self, ConfigError},
    telemetry::LogFormat,
};

#[derive(Debug, Clone)]
pub struct LocalModelsSettings {
    /// `LOCAL_MODELS_ADDR` (`127.0.0.1:8792`).
    pub addr: SocketAddr,
    /// `LOCAL_MODELS_WHISPER_DIR`: a Whisper model in CTranslate2 form (model.bin,
    /// config.json, tokenizer.json, mel_filters.npz). Unset: no speech-to-text routes.
    pub whisper_dir: Option<PathBuf>,
    /// `LOCAL_MODELS_CHAT_MODEL`: a GGUF file (qwen2 or llama architecture). Unset: no chat.
    pub chat_model: Option<PathBuf>,
    /// `LOCAL_MODELS_EMBEDDINGS` (`false`): also serve `/v1/embeddings` with the MiniLM model
    /// at `LOCAL_EMBEDDER_DIR`.
    pub embedder: Option<LocalEmbedderSettings>,
    pub limits: LocalModelsLimits,
    /// `LOCAL_MODELS_WEBHOOK_SECRET`: the `whsec_…` secret that asynchronous transcripts'
    /// callbacks are signed with (Standard Webhooks); the API must list it in
    /// `SELFHOSTED_WEBHOOK_SECRETS`. Unset: callbacks go unsigned.
    pub webhook_secret: Option<WebhookSecret>,
    /// `LOG_FORMAT` (`text`).
    pub log_format: LogFormat,
}

/// What keeps two cores from collapsing under load: a model runs `*_concurrency` requests at
/// once and holds at most `queue_depth` more waiting; past that the answer is 429.
#[derive(Debug, Clone, Copy)]
pub struct LocalModelsLimits {
    /// `LOCAL_MODELS_TRANSCRIPTION_CONCURRENCY` (1).
    pub transcription_concurrency: usize,
    /// `LOCAL_MODELS_GENERATION_CONCURRENCY` (1): each slot holds its own copy of the model's
    /// KV cache.
    pub generation_concurrency: usize,
    /// `LOCAL_MODELS_QUEUE_DEPTH` (8): waiting requests per model.
    pub queue_depth: usize,
    /// `LOCAL_MODELS_MAX_AUDIO_BYTES` (2147483648): an upload or a fetched `audio_url`.
    pub max_audio_bytes: u64,
    /// `LOCAL_MODELS_MAX_AUDIO_SECS` (14400: four hours of audio).
    pub max_audio_secs: u64,
    /// `LOCAL_MODELS_CONTEXT_TOKENS` (8192): prompt plus completion, below the model's own limit.
    pub context_tokens: usize,
    /// `LOCAL_MODELS_MAX_COMPLETION_TOKENS` (4096): the most a request may ask for.
    pub max_completion_tokens: usize,
    /// `LOCAL_MODELS_REQUEST_TIMEOUT_SECS` (1800): a synchronous request's whole life,
    /// queueing included.
    pub request_timeout: Duration,
    /// `LOCAL_MODELS_JOB_TTL_SECS` (86400): how long a finished asynchronous transcript stays
    /// readable.
    pub job_ttl: Duration,
}

impl Default for LocalModelsLimits {
    fn default() -> Self {
        Self {
            transcription_concurrency: 1,
            generation_concurrency: 1,
            queue_depth: 8,
            max_audio_bytes: 2 << 30,
            max_audio_secs: 4 * 3600,
            context_tokens: 8192,
            max_completion_tokens: 4096,
            request_timeout: Duration::from_secs(1800),
            job_ttl: Duration::from_secs(86_400),
        }
    }
}

impl LocalModelsSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let embeddings = env::flag_or("LOCAL_MODELS_EMBEDDINGS", false)?;
        let secret: Option<String> =
            env::optional("LOCAL_MODELS_WEBHOOK_SECRET", "a whsec_<base64> secret")?;
        let webhook_secret = secret
            .map(|s| {
                WebhookSecret::parse(&s).ok_or(ConfigError::Invalid {
                    var: "LOCAL_MODELS_WEBHOOK_SECRET",
                    expected: "a whsec_<base64> secret",
                    got: "(hidden)".into(),
                })
            })
            .transpose()?;
        Ok(Self {
            addr: env::var_or("LOCAL_MODELS_ADDR", "127.0.0.1:8792", "a host:port")?,
            whisper_dir: env::optional("LOCAL_MODELS_WHISPER_DIR", "a directory")?,
            chat_model: env::optional("LOCAL_MODELS_CHAT_MODEL", "a .gguf file")?,
            embedder: if embeddings {
                Some(LocalEmbedderSettings::from_env()?)
            } else {
                None
            },
            limits: LocalModelsLimits::from_env()?,
            webhook_secret,
            log_format: env::var_or("LOG_FORMAT", "text", "text or json")?,
        })
    }
}

impl LocalModelsLimits {
    pub fn from_env() -> Result<Self, ConfigError> {
        let at_least_one = |var: &'static str, default: &str| -> Result<usize, ConfigError> {
            let n: usize = env::var_or(var, default, "a number of at least 1")?;
            if n == 0 {
                return Err(ConfigError::Invalid {
                    var,
                    expected: "a number of at least 1",
                    got: "0".into(),
                });
            }
            Ok(n)
        };
        Ok(Self {
            transcription_concurrency: at_least_one("LOCAL_MODELS_TRANSCRIPTION_CONCURRENCY", "1")?,
            generation_concurrency: at_least_one("LOCAL_MODELS_GENERATION_CONCURRENCY", "1")?,
            queue_depth: env::var_or("LOCAL_MODELS_QUEUE_DEPTH", "8", "a number")?,
            max_audio_bytes: env::var_or(
                "LOCAL_MODELS_MAX_AUDIO_BYTES",
                "2147483648",
                "a number of bytes",
            )?,
            max_audio_secs: env::var_or("LOCAL_MODELS_MAX_AUDIO_SECS", "14400", "seconds")?,
            context_tokens: at_least_one("LOCAL_MODELS_CONTEXT_TOKENS", "8192")?,
            max_completion_tokens: at_least_one("LOCAL_MODELS_MAX_COMPLETION_TOKENS", "4096")?,
            request_timeout: env::secs_or("LOCAL_MODELS_REQUEST_TIMEOUT_SECS", "1800")?,
            job_ttl: env::secs_or("LOCAL_MODELS_JOB_TTL_SECS", "86400")?,
        })
    }
}
