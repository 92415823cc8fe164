//! The diagnostic round trip: one workflow, one activity that writes a row.
//!
//! It proves that a client can start a workflow, a worker picks it up, an activity reaches
//! PostgreSQL, and the result comes back. `scripts/dev up` runs it before the pipeline exists.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_common::ActivityError;
use temporalio_macros::{activity_definitions, workflow, workflow_methods};
use temporalio_workflow::{ActivityOptions, WorkflowContext, WorkflowResult};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PingInput {
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PingOutput {
    /// The row the activity wrote to `diagnostic_pings`.
    pub row_id: i64,
    pub reply: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PingRecord {
    pub workflow_id: String,
    pub message: String,
}

pub struct DiagnosticsActivities;

#[activity_definitions]
impl DiagnosticsActivities {
    /// Records the ping; idempotent per workflow ID.
    #[activity(name = "diagnostics.record_ping")]
    pub fn record_ping(input: PingRecord) -> Result<i64, ActivityError> {
        unimplemented!()
    }
}

#[workflow]
#[derive(Default)]
pub struct PingWorkflow;

#[workflow_methods]
impl PingWorkflow {
    #[run(name = "PingWorkflow")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: PingInput,
    ) -> WorkflowResult<PingOutput> {
        let record = PingRecord {
            workflow_id: ctx.workflow_id().to_owned(),
            message: input.message.clone(),
        };
        let row_id = ctx
            .execute_activity(
                DiagnosticsActivities::record_ping,
                record,
                ActivityOptions::start_to_close_timeout(Duration::from_secs(30)),
            )
            .await?;
        Ok(PingOutput {
            row_id,
            reply: format!("pong: {}", input.message),
        })
    }
}

/// The marker type that activity implementations name in `#[activity(definition = ..)]`.
pub use diagnostics_activities::RecordPing as RecordPingDef;
