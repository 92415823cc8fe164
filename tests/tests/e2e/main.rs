//! End-to-end tests: one binary, so the shared servers start once.

mod chat;
mod compose;
mod config;
mod crash;
mod dev_stack;
mod document;
mod events;
mod health;
mod identity;
mod lifecycle;
mod local_models;
mod media;
mod operations;
mod passages;
mod pipeline;
pub(crate) mod providers;
mod reading;
mod recordings;
mod replay;
mod roundtrip;
mod sqlx_data;
mod webhook_timing;
mod whisper;
