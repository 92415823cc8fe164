//! Temporal workflow code for mediadocs, and the contracts of the activities it calls.
//!
//! Everything here is deterministic: no I/O, no clock, no randomness, no tokio timers.
//! Activities are only declared here (`#[activity_definitions]`); the `activities` crate
//! implements them, and the `worker` binary registers both.

pub mod bench;
pub mod names;
pub mod ping;
pub mod recording;

pub use bench::{NoopActivities, NoopWorkflow};
pub use ping::{DiagnosticsActivities, PingInput, PingOutput, PingWorkflow};
pub use recording::{MediaPipelineWorkflow, RecordingRef, UploadExpiryWorkflow};
