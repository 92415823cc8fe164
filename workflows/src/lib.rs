//! Temporal workflow code for mediadocs, and the contracts of the activities it calls.
//!
//! Everything here is deterministic: no I/O, no clock, no randomness, no tokio timers.
//! Activities are only declared here (`#[activity_definitions]`); the `activities` crate
//! implements them, and the `worker` binary registers both.

pub mod bench;
pub mod bookkeeping;
pub mod document;
pub mod embedding;
pub mod failure;
pub mod media;
pub mod media_pipeline;
pub mod names;
pub mod ping;
pub mod recording;
pub mod stage;
pub mod transcription;

pub use bench::{NoopActivities, NoopWorkflow};
pub use failure::FailureKind;
pub use media_pipeline::{MediaPipelineWorkflow, PipelineOutcome};
pub use ping::{DiagnosticsActivities, PingInput, PingOutput, PingWorkflow};
pub use recording::{RecordingRef, UploadExpiryWorkflow};
pub use stage::{PipelineStage, StageStatus};
