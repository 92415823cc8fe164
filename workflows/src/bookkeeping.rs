//! The pipeline's bookkeeping contracts: stage transitions (recording status, the
//! `pipeline_events` log and the client-facing events, written together) and the progress
//! that the `progress` query reports.

use serde::{Deserialize, Serialize};
use temporalio_common::ActivityError;
use temporalio_macros::activity_definitions;
use uuid::Uuid;

use crate::{
    recording::RecordingRef,
    stage::{PipelineStage, StageStatus},
};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StageTransition {
    pub recording: RecordingRef,
    pub stage: PipelineStage,
    pub status: StageStatus,
    /// Why it failed, in words fit for the recording's owners.
    pub message: Option<String>,
}

/// What the `progress` query answers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Progress {
    /// The stage's name; empty before the first stage starts.
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
    pub document_id: Uuid,
}

pub struct BookkeepingActivities;

#[activity_definitions]
impl BookkeepingActivities {
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

pub use bookkeeping_activities::Publish as PublishDef;
pub use bookkeeping_activities::Transition as TransitionDef;
