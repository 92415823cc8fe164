//! mediadocs-local-models: the models a deployment without cloud keys runs, served over the
//! protocols the project's provider clients already speak, so any of them can be swapped for
//! Ollama, vLLM, faster-whisper-server or a hosted API by changing a base URL.
//!
//! `whisper` is speech to text (CTranslate2 weights loaded into candle's Whisper), `llm`
//! the chat models (quantised GGUF in candle), and `server` the HTTP face: OpenAI's
//! transcription, chat and embedding routes and AssemblyAI's asynchronous transcripts.

pub mod llm;
pub mod server;
pub mod startup;
pub mod whisper;
