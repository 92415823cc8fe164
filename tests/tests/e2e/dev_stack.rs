//! `scripts/dev up` / `down` / `up` keeps a row, an object and a completed workflow.

use std::process::Command;

use mediadocs_settings::{DatabaseSettings, S3Settings, TemporalSettings};
use mediadocs_store::connect;
use mediadocs_tests::{local_models::models_dir, tools, wait::free_port};
use mediadocs_workflows::PingWorkflow;
use temporalio_client::{WorkflowDescribeOptions, WorkflowExecutionStatus};

/// A dev stack on free ports and a scratch data directory, taken down on drop.
struct DevStack {
    dir: tempfile::TempDir,
    pg: u16,
    temporal: u16,
    s3: u16,
    api: u16,
    ui: u16,
    local_models: u16,
    openai_sim: u16,
}

impl DevStack {
    fn new() -> Self {
        let dir = tools::scratch_dir("dev-stack");
        // PostgreSQL runs as an unprivileged user that must reach its data inside this dir.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        Self {
            dir,
            pg: free_port(),
            temporal: free_port(),
            s3: free_port(),
            api: free_port(),
            ui: free_port(),
            local_models: free_port(),
            openai_sim: free_port(),
        }
    }

    fn run(&self, verb: &str) -> String {
        let bin_dir = tools::workspace_binary("mediadocs-api");
        let out = Command::new(tools::repo_root().join("scripts/dev"))
            .arg(verb)
            .env("MEDIADOCS_DEV_DIR", self.dir.path())
            .env("MEDIADOCS_PG_PORT", self.pg.to_string())
            .env("MEDIADOCS_TEMPORAL_PORT", self.temporal.to_string())
            .env("MEDIADOCS_TEMPORAL_UI_PORT", self.ui.to_string())
            .env("MEDIADOCS_S3_PORT", self.s3.to_string())
            .env("MEDIADOCS_API_PORT", self.api.to_string())
            .env("MEDIADOCS_LOCAL_MODELS_PORT", self.local_models.to_string())
            .env("MEDIADOCS_OPENAI_SIM_PORT", self.openai_sim.to_string())
            // The default stack's local transcription, with the test model for speed.
            .env(
                "LOCAL_MODELS_WHISPER_DIR",
                models_dir().join("whisper-tiny.en-ct2"),
            )
            .env("RAYON_NUM_THREADS", "2")
            .env("MEDIADOCS_BIN_DIR", bin_dir.parent().unwrap())
            .env("MEDIADOCS_SKIP_BUILD", "1")
            .output()
            .expect("running scripts/dev");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "scripts/dev {verb} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    fn pids(&self) -> Vec<u32> {
        let dir = self.dir.path().join("pids");
        std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok()?.trim().parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn database(&self) -> DatabaseSettings {
        DatabaseSettings {
            url: format!(
                "postgres://mediadocs:mediadocs@127.0.0.1:{}/mediadocs",
                self.pg
            )
            .into(),
            migration_url: None,
            max_connections: 2,
        }
    }

    fn temporal(&self) -> TemporalSettings {
        TemporalSettings {
            address: format!("http://127.0.0.1:{}", self.temporal)
                .parse()
                .unwrap(),
            namespace: "default".into(),
            task_queue: "mediadocs".into(),
        }
    }

    fn s3(&self) -> S3Settings {
        S3Settings {
            endpoint: Some(format!("http://127.0.0.1:{}", self.s3).parse().unwrap()),
            bucket: "mediadocs".into(),
            region: "us-east-1".into(),
            access_key_id: "mediadocs".into(),
            secret_access_key: "mediadocs-secret".to_owned().into(),
            force_path_style: true,
        }
    }
}

impl Drop for DevStack {
    fn drop(&mut self) {
        let _ = Command::new(tools::repo_root().join("scripts/dev"))
            .arg("down")
            .env("MEDIADOCS_DEV_DIR", self.dir.path())
            .output();
    }
}

/// Whether `pid` is a live process. A zombie has exited; it only waits for whichever
/// process adopted it to reap it.
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_stack_restarts_with_its_data_intact() {
    let stack = DevStack::new();
    let first_up = stack.run("up");
    assert!(
        first_up.contains("pong: hello from scripts/dev"),
        "no round trip in:\n{first_up}"
    );
    assert!(
        first_up.contains(&format!("http://127.0.0.1:{}", stack.ui)),
        "Temporal UI URL printed"
    );
    assert!(
        first_up.contains("transcript segments stored")
            && first_up.contains("published")
            && first_up.contains("recording status \"completed\""),
        "the sample recording went through the whole pipeline:\n{first_up}"
    );
    assert!(
        first_up.contains("transcription: whisper-tiny.en")
            && first_up.contains("LLM calls go to the SIMULATOR")
            && !first_up.contains("transcription goes to the SIMULATOR"),
        "with no provider keys, up says what serves transcription and the LLM:\n{first_up}"
    );
    assert!(
        first_up.contains("--- the document (written by"),
        "the sample prints its document:\n{first_up}"
    );

    // A row, an object and a completed workflow.
    let pool = connect::postgres(&stack.database()).unwrap();
    let row: i64 = sqlx::query_scalar(
        "INSERT INTO diagnostic_pings (workflow_id, message) VALUES ('restart-probe', 'kept') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    let s3 = connect::s3(&stack.s3());
    s3.put_object()
        .bucket("mediadocs")
        .key("probe/restart.txt")
        .body(b"still here".to_vec().into())
        .send()
        .await
        .unwrap();
    let client = connect::temporal(&stack.temporal(), "dev-stack-test")
        .await
        .unwrap();
    let before = mediadocs_api::orchestration::ping(&client, "mediadocs", "restart", "kept".into())
        .await
        .unwrap();
    drop(client);

    let pids = stack.pids();
    assert_eq!(
        pids.len(),
        7,
        "postgres, temporal, s3, the model server, the LLM simulator, api and worker each have a pid file"
    );
    let down = stack.run("down");
    for pid in &pids {
        assert!(!running(*pid), "pid {pid} survived down:\n{down}");
    }

    stack.run("up");
    let pool = connect::postgres(&stack.database()).unwrap();
    let message: String = sqlx::query_scalar("SELECT message FROM diagnostic_pings WHERE id = $1")
        .bind(row)
        .fetch_one(&pool)
        .await
        .expect("the row survived the restart");
    assert_eq!(message, "kept");
    let object = s3
        .get_object()
        .bucket("mediadocs")
        .key("probe/restart.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        object.body.collect().await.unwrap().into_bytes().as_ref(),
        b"still here"
    );
    let client = connect::temporal(&stack.temporal(), "dev-stack-test")
        .await
        .unwrap();
    let handle = client.get_workflow_handle::<PingWorkflow>(
        mediadocs_workflows::names::ping_workflow_id("restart"),
    );
    let described = handle
        .describe(WorkflowDescribeOptions::default())
        .await
        .unwrap();
    assert_eq!(described.status(), WorkflowExecutionStatus::Completed);
    let after = handle.get_result(Default::default()).await.unwrap();
    assert_eq!(
        after, before,
        "the completed workflow's result survived the restart"
    );
}
