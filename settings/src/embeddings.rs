//! Which embedder to build: all-MiniLM-L6-v2 in-process, or an OpenAI-compatible
//! `/v1/embeddings` endpoint.

use std::{num::NonZeroUsize, path::PathBuf, time::Duration};

use secrecy::SecretString;
use url::Url;

use crate::env::{self, ConfigError, optional, var_or};

/// Which embedder to build; see [`EmbeddingSettings::from_env`].
#[derive(Debug, Clone)]
pub enum EmbeddingSettings {
    Local(LocalEmbedderSettings),
    OpenAi(OpenAiEmbedderSettings),
}

impl EmbeddingSettings {
    /// `EMBEDDINGS_PROVIDER` is `local` or `openai`. Unset, it is `openai` when
    /// `EMBEDDINGS_BASE_URL` is set and `local` otherwise: with no provider configured,
    /// mediadocs embeds in-process.
    pub fn from_env() -> Result<Self, ConfigError> {
        const EXPECTED: &str = "local or openai";
        let provider: Option<String> = optional("EMBEDDINGS_PROVIDER", EXPECTED)?;
        let provider = match provider {
            Some(p) => p.to_ascii_lowercase(),
            None if optional::<String>("EMBEDDINGS_BASE_URL", "a URL")?.is_some() => {
                "openai".into()
            }
            None => "local".into(),
        };
        match provider.as_str() {
            "local" => Ok(Self::Local(LocalEmbedderSettings::from_env()?)),
            "openai" => Ok(Self::OpenAi(OpenAiEmbedderSettings::from_env()?)),
            _ => Err(ConfigError::Invalid {
                var: "EMBEDDINGS_PROVIDER",
                expected: EXPECTED,
                got: provider,
            }),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LocalEmbedderSettings {
    /// Holds `config.json`, `model.safetensors` and `tokenizer.json`.
    pub dir: PathBuf,
    /// Texts per forward pass: larger batches use the cores better but pad more.
    pub batch_size: usize,
    /// Word pieces per text, special tokens included; longer texts are truncated.
    /// 256 is the model's `max_seq_length` in sentence-transformers (its card: longer input is
    /// truncated), so vectors agree with those computed there.
    pub max_tokens: usize,
}

impl LocalEmbedderSettings {
    /// `LOCAL_EMBEDDER_DIR` (default `.tools/models/all-MiniLM-L6-v2`, where
    /// `scripts/lib/tools.sh install` links the model, relative to the working directory, so
    /// set it when not running from the repository root) and `LOCAL_EMBEDDER_BATCH` (default 32).
    pub fn from_env() -> Result<Self, ConfigError> {
        let batch: std::num::NonZeroUsize =
            env::var_or("LOCAL_EMBEDDER_BATCH", "32", "a positive number of texts")?;
        Ok(Self {
            dir: env::var_or(
                "LOCAL_EMBEDDER_DIR",
                ".tools/models/all-MiniLM-L6-v2",
                "a directory holding the all-MiniLM-L6-v2 model files",
            )?,
            batch_size: batch.get(),
            max_tokens: 256,
        })
    }
}

#[derive(Debug, Clone)]
pub struct OpenAiEmbedderSettings {
    pub base_url: Url,
    pub api_key: Option<SecretString>,
    pub model: String,
    /// Sent as `dimensions`, and checked on every returned vector.
    pub dimension: usize,
    /// Texts per request.
    pub batch_size: NonZeroUsize,
    /// Per batch, retries included.
    pub timeout: Duration,
}

impl OpenAiEmbedderSettings {
    /// `EMBEDDINGS_BASE_URL`, `EMBEDDINGS_API_KEY`, `EMBEDDINGS_MODEL`,
    /// `EMBEDDINGS_DIMENSION`, `EMBEDDINGS_BATCH` and `EMBEDDINGS_TIMEOUT_SECS`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let dimension: NonZeroUsize = var_or(
            "EMBEDDINGS_DIMENSION",
            "1536",
            "a positive number of floats",
        )?;
        let timeout: NonZeroUsize = var_or(
            "EMBEDDINGS_TIMEOUT_SECS",
            "60",
            "a positive number of seconds",
        )?;
        Ok(Self {
            base_url: var_or(
                "EMBEDDINGS_BASE_URL",
                "https://api.openai.com/v1",
                "an http(s) URL such as https://api.openai.com/v1",
            )?,
            api_key: optional::<String>("EMBEDDINGS_API_KEY", "an API key")?
                .map(SecretString::from),
            model: var_or("EMBEDDINGS_MODEL", "text-embedding-3-small", "a model name")?,
            dimension: dimension.get(),
            batch_size: var_or("EMBEDDINGS_BATCH", "128", "a positive number of texts")?,
            timeout: Duration::from_secs(timeout.get() as u64),
        })
    }
}
