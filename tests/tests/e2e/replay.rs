//! Determinism: every saved pipeline history replays against the current workflow code.
//! A change that would make running pipelines diverge fails here, not in production.

use mediadocs_tests::histories;
use mediadocs_workflows::{MediaPipelineWorkflow, document::DocumentWorkflow};
use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

#[tokio::test]
async fn saved_pipeline_histories_replay_against_the_current_code() {
    let mut files: Vec<_> = std::fs::read_dir(histories::dir())
        .expect("tests/fixtures/histories exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for required in [
        "happy-webhook",
        "poll-after-timeout",
        "retried-activity",
        "failure-no-speech",
        "whisper-chunks",
        "early-webhook",
        "document-failure",
        "regeneration",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "no saved history {required}: {names:?}"
        );
    }
    let options = WorkflowReplayerOptions::new()
        .register_workflow::<MediaPipelineWorkflow>()
        .unwrap()
        .register_workflow::<DocumentWorkflow>()
        .unwrap()
        .build();
    let replayer = WorkflowReplayer::new(options).unwrap();
    for (path, name) in files.iter().zip(&names) {
        let history = WorkflowHistory::from_json(&std::fs::read(path).unwrap()).unwrap();
        replayer
            .replay_workflow(history)
            .await
            .unwrap_or_else(|e| panic!("{name} no longer replays: {e:?}"));
    }
}
