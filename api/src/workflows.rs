//! Starting workflows from the API: the workflow ID, task queue and input for each.

use mediadocs_workflows::{PingInput, PingOutput, PingWorkflow, names};
use temporalio_client::{Client, WorkflowGetResultOptions, WorkflowStartOptions};

/// Starts a diagnostic ping and waits for its result.
pub async fn ping(
    client: &Client,
    task_queue: &str,
    ping_id: &str,
    message: String,
) -> anyhow::Result<PingOutput> {
    let options = WorkflowStartOptions::new(task_queue, names::ping_workflow_id(ping_id)).build();
    let handle = client
        .start_workflow(PingWorkflow::run, PingInput { message }, options)
        .await?;
    Ok(handle
        .get_result(WorkflowGetResultOptions::default())
        .await?)
}
