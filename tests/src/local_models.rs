//! `mediadocs-local-models` as a child process on a free port, with the test models
//! (Whisper tiny.en and SmolLM2-135M, installed by `scripts/lib/tools.sh`): the real server
//! binary, so a test can kill it mid-job the way a crash would.

use std::{path::PathBuf, process::Command, time::Duration};

use crate::{context::TEST_SELFHOSTED_SECRETS, process::Server, tools, wait};

/// The test chat model's ID: its file's stem.
pub const TEST_CHAT_MODEL: &str = "smollm2-135m-instruct-q4_1";

/// The chat model a test serves: the test model, or `MEDIADOCS_TEST_CHAT_MODEL` (another
/// installed GGUF's stem, to try the default model on the same test).
pub fn chat_model() -> String {
    std::env::var("MEDIADOCS_TEST_CHAT_MODEL").unwrap_or_else(|_| TEST_CHAT_MODEL.into())
}
pub const TEST_WHISPER: &str = "whisper-tiny.en";

pub fn models_dir() -> PathBuf {
    std::env::var_os("MEDIADOCS_MODELS_DIR")
        .map_or_else(|| tools::repo_root().join(".tools/models"), PathBuf::from)
}

pub struct LocalModels {
    pub base_url: String,
    pub server: Server,
    env: Vec<(String, String)>,
    log: PathBuf,
    _scratch: tempfile::TempDir,
}

impl LocalModels {
    /// Serves tiny.en and SmolLM2, signing callbacks with the tests' first self-hosted
    /// secret; `env` adds or overrides settings (queue limits, say).
    pub async fn start(env: &[(&str, &str)]) -> Self {
        let scratch = tools::scratch_dir("local-models");
        let port = wait::free_port();
        let models = models_dir();
        let mut all: Vec<(String, String)> = vec![
            ("LOCAL_MODELS_ADDR".into(), format!("127.0.0.1:{port}")),
            (
                "LOCAL_MODELS_WHISPER_DIR".into(),
                models.join("whisper-tiny.en-ct2").display().to_string(),
            ),
            (
                "LOCAL_MODELS_CHAT_MODEL".into(),
                models
                    .join(format!("{}.gguf", chat_model()))
                    .display()
                    .to_string(),
            ),
            (
                "LOCAL_MODELS_WEBHOOK_SECRET".into(),
                TEST_SELFHOSTED_SECRETS[0].into(),
            ),
            ("LOCAL_MODELS_CONTEXT_TOKENS".into(), "8192".into()),
            // Two cores shared with PostgreSQL, Temporal and the test itself.
            ("RAYON_NUM_THREADS".into(), "2".into()),
        ];
        for (k, v) in env {
            all.retain(|(key, _)| key != k);
            all.push(((*k).into(), (*v).into()));
        }
        let log = scratch.path().join("local-models.log");
        let mut this = Self {
            base_url: format!("http://127.0.0.1:{port}"),
            server: spawn(&all, &log),
            env: all,
            log,
            _scratch: scratch,
        };
        this.wait_ready().await;
        this
    }

    async fn wait_ready(&mut self) {
        let url = format!("{}/healthz", self.base_url);
        let http = reqwest::Client::new();
        let ready = self
            .server
            .wait_ready(Duration::from_secs(300), || {
                let request = http.get(&url).send();
                async move { request.await.is_ok_and(|r| r.status().is_success()) }
            })
            .await;
        assert!(
            ready,
            "the model server did not come up: {}",
            self.log_tail()
        );
    }

    /// Kills the server (SIGKILL, as a crash) and starts it again on the same port, with
    /// nothing of its jobs remembered.
    pub async fn restart(&mut self) {
        self.server.stop(libc::SIGKILL);
        // The first run's log stays for a reader; the new run writes its own.
        self.log = self.log.with_extension("restarted.log");
        self.server = spawn(&self.env, &self.log);
        self.wait_ready().await;
    }

    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

fn spawn(env: &[(String, String)], log: &std::path::Path) -> Server {
    let mut command = Command::new(tools::workspace_binary("mediadocs-local-models"));
    command.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    Server::spawn("local-models", command, log, libc::SIGKILL)
        .expect("starting mediadocs-local-models")
}
