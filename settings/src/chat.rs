//! Chat's settings: the providers it calls and the limits it enforces.

use std::{num::NonZeroU32, time::Duration};

use crate::{
    embeddings::EmbeddingSettings,
    env::{self, ConfigError},
    llm::LlmSettings,
};

#[derive(Debug, Clone)]
pub struct ChatSettings {
    /// `LLM_*`, as for the worker.
    pub llm: LlmSettings,
    /// `EMBEDDINGS_*` and `LOCAL_EMBEDDER_*`, as for the worker: questions must be embedded
    /// by the model that embedded the passages.
    pub embeddings: EmbeddingSettings,
    /// `CHAT_REQUESTS_PER_MINUTE`: questions per user (or API key) per minute, default 20.
    pub requests_per_minute: NonZeroU32,
    /// `CHAT_BURST`: questions a user may ask at once before the rate applies, default 5.
    pub burst: NonZeroU32,
    /// `CHAT_DAILY_TOKEN_BUDGET`: LLM tokens per org per UTC day, default 2000000.
    pub daily_tokens_per_org: u64,
    /// `CHAT_MAX_ANSWER_TOKENS`: the longest answer, default 1000.
    pub max_answer_tokens: u32,
    /// `CHAT_HISTORY_TOKENS`: earlier messages of the conversation sent with a question,
    /// newest first, up to this many cl100k_base tokens; default 2000.
    pub history_tokens: usize,
    /// `CHAT_KEEPALIVE_SECS`: a comment on an idle stream this often, default 15, so that
    /// proxies do not close it while the model thinks.
    pub keep_alive: Duration,
}

impl ChatSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let keep_alive: u64 = env::var_or("CHAT_KEEPALIVE_SECS", "15", "a number of seconds")?;
        Ok(Self {
            llm: LlmSettings::from_env()?,
            embeddings: EmbeddingSettings::from_env()?,
            requests_per_minute: env::var_or(
                "CHAT_REQUESTS_PER_MINUTE",
                "20",
                "a positive integer",
            )?,
            burst: env::var_or("CHAT_BURST", "5", "a positive integer")?,
            daily_tokens_per_org: env::var_or(
                "CHAT_DAILY_TOKEN_BUDGET",
                "2000000",
                "a number of tokens",
            )?,
            max_answer_tokens: env::var_or("CHAT_MAX_ANSWER_TOKENS", "1000", "a number of tokens")?,
            history_tokens: env::var_or("CHAT_HISTORY_TOKENS", "2000", "a number of tokens")?,
            keep_alive: Duration::from_secs(keep_alive.max(1)),
        })
    }

    /// The documented defaults around the given providers; for tests and tools.
    pub fn with_providers(llm: LlmSettings, embeddings: EmbeddingSettings) -> Self {
        Self {
            llm,
            embeddings,
            requests_per_minute: NonZeroU32::new(20).expect("non-zero"),
            burst: NonZeroU32::new(5).expect("non-zero"),
            daily_tokens_per_org: 2_000_000,
            max_answer_tokens: 1000,
            history_tokens: 2000,
            keep_alive: Duration::from_secs(15),
        }
    }
}
