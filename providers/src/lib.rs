//! Clients for the providers mediadocs depends on but does not run (transcription, LLMs,
//! embeddings), and the signatures that authenticate their webhooks.
//!
//! The worker's activities and the API both use these, which is why they are a crate of
//! their own rather than part of `activities/` (whose Temporal SDK the API does not link).
//! Each client speaks the provider's real wire protocol; tests drive them against the
//! simulators in `mediadocs-dev`.

pub mod embeddings;
pub mod llm;
pub mod transcription;
pub mod webhook;
