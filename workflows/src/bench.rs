//! The bare-Temporal baseline: a workflow that runs N no-op activities in sequence.
//!
//! Every orchestration figure in the benchmarks is compared with this workflow, measured in
//! the same run, so the comparison isolates our own overhead from the server's.

use std::time::Duration;

use temporalio_common::ActivityError;
use temporalio_macros::{activity_definitions, workflow, workflow_methods};
use temporalio_workflow::{ActivityOptions, WorkflowContext, WorkflowResult};

pub struct NoopActivities;

#[activity_definitions]
impl NoopActivities {
    #[activity(name = "bench.noop")]
    pub fn noop(step: u32) -> Result<u32, ActivityError> {
        unimplemented!()
    }
}

#[workflow]
#[derive(Default)]
pub struct NoopWorkflow;

#[workflow_methods]
impl NoopWorkflow {
    /// Runs `activities` no-op activities one after another and returns how many ran.
    #[run(name = "NoopWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, activities: u32) -> WorkflowResult<u32> {
        let mut done = 0;
        for step in 0..activities {
            ctx.execute_activity(
                NoopActivities::noop,
                step,
                ActivityOptions::start_to_close_timeout(Duration::from_secs(30)),
            )
            .await?;
            done += 1;
        }
        Ok(done)
    }
}

/// The marker type that activity implementations name in `#[activity(definition = ..)]`.
pub use noop_activities::Noop as NoopDef;
