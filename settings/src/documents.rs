//! How the document stage sizes its prompts.

use crate::env::{ConfigError, var_or};

/// Tokens reserved in every prompt for the instructions and the framing around the data.
const PROMPT_OVERHEAD: u32 = 1000;

/// `DOCUMENT_CHUNK_TOKENS` (3000), `DOCUMENT_SUMMARY_MAX_TOKENS` (800) and
/// `DOCUMENT_MAX_TOKENS` (4000); the model's window is `LLM_CONTEXT_TOKENS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentSettings {
    /// The most transcript tokens in one map prompt (less if the model's window is smaller).
    pub chunk_tokens: u32,
    /// The longest answer of a summarise or reduce call.
    pub summary_max_tokens: u32,
    /// The longest answer of the final pass.
    pub document_max_tokens: u32,
}

impl Default for DocumentSettings {
    fn default() -> Self {
        Self {
            chunk_tokens: 3000,
            summary_max_tokens: 800,
            document_max_tokens: 4000,
        }
    }
}

impl DocumentSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            chunk_tokens: var_or("DOCUMENT_CHUNK_TOKENS", "3000", "a number of tokens")?,
            summary_max_tokens: var_or("DOCUMENT_SUMMARY_MAX_TOKENS", "800", "a number of tokens")?,
            document_max_tokens: var_or("DOCUMENT_MAX_TOKENS", "4000", "a number of tokens")?,
        })
    }

    /// Transcript tokens per chunk for a model with `context` tokens.
    pub fn chunk_tokens_for(&self, context: u32) -> u32 {
        let room = context.saturating_sub(self.summary_max_tokens + PROMPT_OVERHEAD);
        self.chunk_tokens.min(room).max(100)
    }

    /// Summary tokens one reduce or write prompt may carry. Never under two summaries'
    /// worth, so every reduce level at least halves the count.
    pub fn reduce_budget_for(&self, context: u32) -> u32 {
        let room = context.saturating_sub(self.document_max_tokens + PROMPT_OVERHEAD);
        room.max(self.summary_max_tokens * 2)
    }
}
