//! The `mediadocs-worker` binary as a child process: for tests that kill a worker outright
//! (SIGKILL), and for benchmarks that measure a worker's memory on its own.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
};

use base64::Engine;
use secrecy::ExposeSecret;

use crate::{TestContext, context::TEST_WEBHOOK_TOKEN_KEY, tools};

/// A worker process, killed when dropped so that a failing test leaves none behind.
pub struct WorkerProcess(Child);

impl WorkerProcess {
    /// Runs `binary` against the test's database, Temporal task queue and bucket, with the
    /// local embedder; `env` adds the providers and overrides anything else. Output goes to
    /// `log`.
    pub fn spawn(binary: &Path, ctx: &TestContext, env: &[(&str, &str)], log: &Path) -> Self {
        let db = ctx.database_settings();
        let s3 = ctx.s3_settings();
        let temporal = ctx.temporal_settings();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("opening the worker's log");
        let child = Command::new(binary)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", db.url.expose_secret())
            .env(
                "DATABASE_MIGRATION_URL",
                db.migration_url
                    .as_ref()
                    .expect("the test database has a migration URL")
                    .expose_secret(),
            )
            .env("TEMPORAL_ADDRESS", temporal.address.as_str())
            .env("TEMPORAL_NAMESPACE", &temporal.namespace)
            .env("TEMPORAL_TASK_QUEUE", &temporal.task_queue)
            .env(
                "S3_ENDPOINT",
                s3.endpoint.as_ref().expect("a local S3").as_str(),
            )
            .env("S3_BUCKET", &s3.bucket)
            .env("S3_REGION", &s3.region)
            .env("S3_ACCESS_KEY_ID", &s3.access_key_id)
            .env("S3_SECRET_ACCESS_KEY", s3.secret_access_key.expose_secret())
            .env("S3_FORCE_PATH_STYLE", "true")
            .env(
                "WEBHOOK_TOKEN_KEY",
                base64::engine::general_purpose::STANDARD.encode(TEST_WEBHOOK_TOKEN_KEY),
            )
            .env(
                "LOCAL_EMBEDDER_DIR",
                tools::repo_root().join(".tools/models/all-MiniLM-L6-v2"),
            )
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file"))
            .stderr(log)
            .spawn()
            .expect("starting mediadocs-worker");
        Self(child)
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// SIGKILL: no shutdown, no in-flight task finished.
    pub fn kill(mut self) {
        self.0.kill().expect("killing the worker");
        self.0.wait().expect("reaping the worker");
    }

    /// The process's peak resident set (`VmHWM`) so far, in bytes.
    pub fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib * 1024)
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
