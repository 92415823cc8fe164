//! Names that other processes depend on: changing one strands running workflows.

/// The task queue when `TEMPORAL_TASK_QUEUE` is unset.
pub const DEFAULT_TASK_QUEUE: &str = "mediadocs";

/// Workflow type names, pinned so that renaming a Rust type cannot break running workflows.
pub const PING_WORKFLOW: &str = "PingWorkflow";
pub const NOOP_WORKFLOW: &str = "NoopWorkflow";

/// Custom search attributes (all Keyword) that the dev stack and the test harness register.
pub const SEARCH_ATTRIBUTES: [&str; 3] = ["OrgId", "RecordingId", "PipelineStage"];

/// The workflow ID of a diagnostic ping.
pub fn ping_workflow_id(ping_id: &str) -> String {
    format!("ping-{ping_id}")
}
