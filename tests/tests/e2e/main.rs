//! End-to-end tests: one binary, so the shared servers start once.

mod compose;
mod config;
mod dev_stack;
mod health;
mod identity;
mod providers;
mod recordings;
mod roundtrip;
