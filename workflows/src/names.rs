//! Names that other processes depend on: changing one strands running workflows.

use std::fmt::Display;

/// The task queue when `TEMPORAL_TASK_QUEUE` is unset.
pub const DEFAULT_TASK_QUEUE: &str = "mediadocs";

/// Workflow type names, pinned so that renaming a Rust type cannot break running workflows.
pub const PING_WORKFLOW: &str = "PingWorkflow";
pub const NOOP_WORKFLOW: &str = "NoopWorkflow";

/// Custom search attributes (all Keyword) that the dev stack and the test harness register.
pub const SEARCH_ATTRIBUTES: [&str; 3] = ["OrgId", "RecordingId", "PipelineStage"];

/// The workflow ID of a diagnostic ping.
pub fn ping_workflow_id(ping_id: impl Display) -> String {
    format!("ping-{ping_id}")
}

/// The media pipeline of a recording: `recording-{id}`.
pub fn pipeline_workflow_id(recording_id: impl Display) -> String {
    format!("recording-{recording_id}")
}

/// A regeneration of a recording's document (`document_generations.id`).
pub fn regeneration_workflow_id(generation_id: impl Display) -> String {
    format!("document-regeneration-{generation_id}")
}

/// The stale-upload timer of a recording.
pub fn upload_expiry_workflow_id(recording_id: impl Display) -> String {
    format!("upload-expiry-{recording_id}")
}

/// Where a recording's source lives. Keys are always generated here, never taken from a client.
pub fn source_key(org_id: impl Display, recording_id: impl Display, ext: &str) -> String {
    format!("{}source.{ext}", recording_prefix(org_id, recording_id))
}

/// Everything of a recording in S3 sits under this prefix.
pub fn recording_prefix(org_id: impl Display, recording_id: impl Display) -> String {
    format!("orgs/{org_id}/recordings/{recording_id}/")
}

#[cfg(test)]
mod tests {
    /// Running workflows and operators' queries know these IDs: they must not drift.
    #[test]
    fn workflow_ids_keep_their_shape() {
        assert_eq!(super::pipeline_workflow_id("r1"), "recording-r1");
        assert_eq!(super::upload_expiry_workflow_id("r1"), "upload-expiry-r1");
        assert_eq!(super::ping_workflow_id("p1"), "ping-p1");
        assert_eq!(
            super::regeneration_workflow_id("g1"),
            "document-regeneration-g1"
        );
    }
}
