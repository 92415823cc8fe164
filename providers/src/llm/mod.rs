//! Chat completions from any OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp's
//! server), through async-openai.
//!
//! [`ChatClient::complete`] returns a whole answer; [`ChatClient::stream`] yields text as the
//! model writes it. Both retry 429 and 5xx within the call's timeout, count tokens with the
//! `metrics` crate, and fail with an [`LlmError`] that says whether a retry can help.
//! Transcripts are untrusted input: wrap them with [`untrusted_block`] and put
//! [`UNTRUSTED_CONTENT_RULE`] in the system prompt.

mod client;
mod error;
mod stream;
mod telemetry;
pub(crate) mod transport;
mod types;
mod untrusted;

pub use client::ChatClient;
pub use error::LlmError;
pub use mediadocs_settings::llm::LlmSettings;
pub use types::{ChatRequest, Completion, Message, Role, StreamEvent, Usage};
pub use untrusted::{UNTRUSTED_CONTENT_RULE, untrusted_block};
