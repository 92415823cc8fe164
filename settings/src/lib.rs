//! Every setting mediadocs reads from the environment, as typed values.
//!
//! Each binary (API, worker, operator CLI) calls the `from_env` it needs once at start-up
//! and hands the values to the library crates, which never read the environment
//! themselves. The test harness fills the structs directly. `.env.example` lists every
//! variable with its default.

pub mod api;
pub mod chat;
pub mod documents;
pub mod embeddings;
pub mod env;
pub mod events;
pub mod llm;
pub mod local_models;
pub mod services;
pub mod shutdown;
pub mod telemetry;
pub mod transcription;
pub mod worker;

pub use env::{ConfigError, or_exit};
pub use services::{DatabaseSettings, S3Settings, TemporalSettings};
