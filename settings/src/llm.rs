//! Which OpenAI-compatible server to talk to, and how patiently.

use std::time::Duration;

use crate::env::{ConfigError, optional, var_or};
use secrecy::SecretString;
use url::Url;

/// Settings for [`super::ChatClient`]. The key is a [`SecretString`], so `Debug` redacts it.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// Ends in `/v1` for every server we know: OpenAI, Ollama, vLLM and llama.cpp's server.
    pub base_url: Url,
    /// Local servers usually need none.
    pub api_key: Option<SecretString>,
    pub model: String,
    /// The whole of a non-streaming call, retries and their waits included; for a stream,
    /// the time until its first token.
    pub timeout: Duration,
    /// The longest silence between two chunks of a stream that has started.
    pub stream_idle_timeout: Duration,
    /// Retries of 429 and 5xx answers within one call, after the first attempt.
    pub max_retries: usize,
    /// The model's context window in tokens; callers split longer inputs (map-reduce).
    pub context_tokens: u32,
}

impl LlmSettings {
    /// `LLM_BASE_URL`, `LLM_API_KEY`, `LLM_MODEL`, `LLM_TIMEOUT_SECS`, `LLM_STREAM_IDLE_SECS`,
    /// `LLM_MAX_RETRIES` and `LLM_CONTEXT_TOKENS`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let timeout_secs: u64 = var_or("LLM_TIMEOUT_SECS", "120", "a number of seconds")?;
        let idle_secs: u64 = var_or("LLM_STREAM_IDLE_SECS", "30", "a number of seconds")?;
        if timeout_secs == 0 || idle_secs == 0 {
            return Err(ConfigError::Invalid {
                var: if timeout_secs == 0 {
                    "LLM_TIMEOUT_SECS"
                } else {
                    "LLM_STREAM_IDLE_SECS"
                },
                expected: "a positive number of seconds",
                got: "0".into(),
            });
        }
        Ok(Self {
            base_url: var_or(
                "LLM_BASE_URL",
                "https://api.openai.com/v1",
                "an http(s) URL such as http://127.0.0.1:11434/v1",
            )?,
            api_key: optional::<String>("LLM_API_KEY", "an API key")?.map(SecretString::from),
            model: var_or("LLM_MODEL", "gpt-4o-mini", "a model name")?,
            timeout: Duration::from_secs(timeout_secs),
            stream_idle_timeout: Duration::from_secs(idle_secs),
            max_retries: var_or("LLM_MAX_RETRIES", "3", "a number of retries")?,
            context_tokens: var_or("LLM_CONTEXT_TOKENS", "128000", "a number of tokens")?,
        })
    }

    /// Settings for `base_url` with every other value at its default; for tests and tools.
    pub fn for_base_url(base_url: Url, model: impl Into<String>) -> Self {
        Self {
            base_url,
            api_key: None,
            model: model.into(),
            timeout: Duration::from_secs(120),
            stream_idle_timeout: Duration::from_secs(30),
            max_retries: 3,
            context_tokens: 128_000,
        }
    }
}
