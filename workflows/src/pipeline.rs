//! The pipeline's bookkeeping contracts: stage transitions (recording status, the
//! `pipeline_events` log and the client-facing events, written together) and the progress
//! that the `progress` query reports.

use serde::{Deserialize, Serialize};
use temporalio_common::ActivityError;
use temporalio_macros::activity_definitions;

use crate::recording::RecordingRef;

/// The pipeline's stages, in order, as `pipeline_events.stage` and the `PipelineStage`
/// search attribute name them.
pub const STAGES: [&str; 5] = ["verify", "transcribe", "generate", "embed", "publish"];

/// Where each stage starts on the progress bar, 0–100: transcription is the long wait, and
/// the map phase (or Whisper's chunks) moves the bar from its stage's mark to the next's.
/// The `progress` query and the `pipeline.progress` events both use it.
pub fn stage_percent(stage: &str) -> u32 {
    match stage {
        "transcribe" => 5,
        "generate" => 40,
        "embed" => 85,
        "publish" => 95,
        _ => 0,
    }
}

/// The overall percentage with `done` of `total` steps of `stage` finished.
pub fn percent_within(stage: &str, done: u32, total: u32) -> u32 {
    let next = STAGES
        .iter()
        .position(|s| *s == stage)
        .and_then(|i| STAGES.get(i + 1))
        .map_or(100, |s| stage_percent(s));
    let from = stage_percent(stage);
    from + (next - from) * done.min(total) / total.max(1)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StageTransition {
    pub recording: RecordingRef,
    /// One of [`STAGES`].
    pub stage: String,
    /// `started`, `completed` or `failed`.
    pub status: String,
    /// Why it failed, in words fit for the recording's owners.
    pub message: Option<String>,
}

/// What the `progress` query answers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Progress {
    pub stage: String,
    /// Of the whole pipeline, 0–100.
    pub percent: u32,
    /// Map chunks summarised so far, of the total (0/0 before the document stage).
    pub chunks_done: u32,
    pub chunks_total: u32,
}

/// Publishes the recording's document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Publish {
    pub recording: RecordingRef,
    pub document_id: String,
}

pub struct PipelineActivities;

#[activity_definitions]
impl PipelineActivities {
    /// Moves the recording to the stage's status and records the transition, once per
    /// workflow run, with the event clients follow.
    #[activity(name = "pipeline.transition")]
    pub fn transition(input: StageTransition) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Marks the document `published` and tells the org's clients it is ready, once.
    #[activity(name = "pipeline.publish")]
    pub fn publish(input: Publish) -> Result<(), ActivityError> {
        unimplemented!()
    }
}

pub use pipeline_activities::Publish as PublishDef;
pub use pipeline_activities::Transition as TransitionDef;
