//! Chat models: quantised GGUF files (qwen2 and llama architectures) run in candle on the CPU.
//!
//! [`ChatModel::load`] reads a GGUF, requantising the tensor types candle has no SIMD kernels
//! for into a cached `<stem>.q8_0.gguf` first ([`requantize`]), and builds the tokenizer and the
//! ChatML template from the file's own metadata. [`ChatModel::generate`] streams decoded text,
//! holding back anything that could still turn into a stop sequence.

mod generate;
mod load;
mod requantize;
mod stop;
mod stream;
mod template;
mod tokenizer;

#[cfg(test)]
mod test_support;

pub use load::ChatModel;
pub use requantize::{RequantizeReport, requantize};

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    /// The name ChatML writes after `<|im_start|>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct GenerationParams {
    pub max_tokens: usize,
    /// 0 picks the most likely token every step (deterministic).
    pub temperature: f64,
    pub top_p: Option<f64>,
    pub stop: Vec<String>,
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The model ended its turn (an end-of-turn token) or a stop sequence matched.
    Stop,
    /// `max_tokens`, or the context, ran out.
    Length,
    /// The text callback asked to stop.
    Cancelled,
}

#[derive(Debug, Clone)]
pub struct Generation {
    pub prompt_tokens: usize,
    /// Tokens sampled, including an end-of-turn token that stopped generation.
    pub completion_tokens: usize,
    pub finish_reason: FinishReason,
    pub prompt_seconds: f64,
    pub generation_seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("model file {} does not exist", .0.display())]
    NotFound(PathBuf),
    #[error("reading {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a readable GGUF file: {reason}", path.display())]
    NotGguf { path: PathBuf, reason: String },
    #[error("unsupported model architecture `{0}` (supported: qwen2, llama)")]
    UnsupportedArchitecture(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("chat template: {0}")]
    Template(String),
    #[error("loading the weights: {0}")]
    Weights(String),
    #[error("requantising {}: {reason}", path.display())]
    Requantize { path: PathBuf, reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(
        "the prompt is {tokens} tokens, which leaves no room to answer in a context of {limit} tokens"
    )]
    PromptTooLong { tokens: usize, limit: usize },
    #[error("model: {0}")]
    Model(String),
}

impl From<candle_core::Error> for GenerateError {
    fn from(e: candle_core::Error) -> Self {
        GenerateError::Model(e.to_string())
    }
}
