//! The end-to-end test harness: real PostgreSQL, Temporal and S3 servers, started on free
//! ports by the test binary itself, shared by every test in it, and gone when it exits.
//!
//! Each test gets its own database (cloned from a migrated template), its own Temporal task
//! queue and its own S3 bucket, so tests run in parallel without seeing each other.

pub mod api_client;
pub mod api_process;
pub mod app;
pub mod context;
pub mod feed;
pub mod fixtures;
pub mod histories;
pub mod local_models;
pub mod media;
pub mod postgres;
pub mod process;
pub mod retrieval_eval;
pub mod s3;
pub mod services;
pub mod staged_upload;
pub mod stats;
pub mod synthetic;
pub mod temporal;
pub mod tools;
pub mod wait;
pub mod worker;
pub mod worker_process;

pub use app::TestApp;
pub use context::TestContext;
pub use worker::{TestWorker, WorkerProviders};
