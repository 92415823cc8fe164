//! Saved workflow histories, replayed against the current workflow code so that a change
//! that would break running pipelines fails CI.
//!
//! Tests that drive a pipeline down a path worth keeping call [`save`]; it writes the history
//! only when `MEDIADOCS_RECORD_HISTORIES=1`, so fixtures change only when someone means to:
//!
//! ```sh
//! MEDIADOCS_RECORD_HISTORIES=1 cargo test -p mediadocs-tests --test e2e -- providers::webhooks pipeline::
//! ```

use std::path::PathBuf;

use temporalio_client::{UntypedWorkflow, WorkflowFetchHistoryOptions};

pub fn dir() -> PathBuf {
    crate::tools::repo_root().join("tests/fixtures/histories")
}

/// Saves the history of `workflow_id` as `tests/fixtures/histories/{name}.json`, when asked.
pub async fn save(client: &temporalio_client::Client, workflow_id: &str, name: &str) {
    if std::env::var("MEDIADOCS_RECORD_HISTORIES").as_deref() != Ok("1") {
        return;
    }
    let json = client
        .get_workflow_handle::<UntypedWorkflow>(workflow_id)
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .to_json()
        .await
        .expect("the history of a finished workflow");
    std::fs::create_dir_all(dir()).expect("creating the histories folder");
    std::fs::write(dir().join(format!("{name}.json")), json).expect("writing the history");
}

/// One event of a history: its ID, the kind of its attributes (e.g.
/// `ActivityTaskScheduledEventAttributes`) and the attributes, as the SDK's JSON has them.
pub struct Event {
    pub id: i64,
    pub kind: String,
    pub attributes: serde_json::Value,
}

/// The events of `workflow_id`'s latest run, for tests that assert on what happened.
pub async fn events(client: &temporalio_client::Client, workflow_id: &str) -> Vec<Event> {
    let json = client
        .get_workflow_handle::<UntypedWorkflow>(workflow_id)
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .to_json()
        .await
        .expect("the workflow's history");
    let history: serde_json::Value = serde_json::from_slice(&json).expect("history JSON");
    history["events"]
        .as_array()
        .expect("a list of events")
        .iter()
        .map(|e| {
            let (kind, attributes) = e["attributes"]
                .as_object()
                .and_then(|a| a.iter().next())
                .expect("an event's attributes");
            Event {
                id: e["event_id"].as_i64().expect("an event ID"),
                kind: kind.clone(),
                attributes: attributes.clone(),
            }
        })
        .collect()
}
