//! Provider clients driven against the simulators (and the local embedder against its
//! reference vectors).

mod llm;
mod local_embedder;
mod openai_embeddings;
mod transcription;
pub(crate) mod webhooks;
