//! The real `mediadocs-api` binary on a free port, pointed at a test context's services, for
//! benchmarks that measure the process itself (its sockets, its memory).

use std::{
    process::{Child, Command},
    time::Duration,
};

use secrecy::ExposeSecret;

use crate::{TestContext, tools, wait};

pub struct ApiProcess {
    child: Child,
    pub base: String,
}

impl ApiProcess {
    pub async fn start(ctx: &TestContext) -> Self {
        Self::start_with(ctx, &[]).await
    }

    /// Starts it with `env` on top of the context's settings, and waits until it is ready.
    pub async fn start_with(ctx: &TestContext, env: &[(&str, &str)]) -> Self {
        let port = wait::free_port();
        let db = ctx.database_settings();
        let s3 = ctx.s3_settings();
        let binary = if cfg!(debug_assertions) {
            tools::workspace_binary("mediadocs-api")
        } else {
            tools::release_binary("mediadocs-api")
        };
        let mut command = Command::new(binary);
        // Relative defaults (the local embedding model's directory) are the repository's.
        command
            .current_dir(tools::repo_root())
            .env("API_ADDR", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", db.url.expose_secret())
            .env(
                "DATABASE_MIGRATION_URL",
                db.migration_url.as_ref().unwrap().expose_secret(),
            )
            .env("TEMPORAL_ADDRESS", ctx.temporal_settings().address.as_str())
            .env("TEMPORAL_TASK_QUEUE", &ctx.task_queue)
            .env("S3_ENDPOINT", s3.endpoint.as_ref().unwrap().as_str())
            .env("S3_BUCKET", &s3.bucket)
            .env("S3_ACCESS_KEY_ID", &s3.access_key_id)
            .env("S3_SECRET_ACCESS_KEY", s3.secret_access_key.expose_secret())
            .env(
                "JWT_KEYS",
                "bench:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            )
            .env(
                "WEBHOOK_TOKEN_KEY",
                "dGhlLWJlbmNoLXdlYmhvb2stdG9rZW4ta2V5LTAxMjM0NTY3",
            )
            .env("RUST_LOG", "warn");
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("starting mediadocs-api");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        wait::until("the API to be ready", Duration::from_secs(60), || async {
            http.get(format!("{base}/readyz"))
                .send()
                .await
                .ok()
                .filter(|r| r.status() == 200)
                .map(|_| ())
        })
        .await;
        Self { child, base }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the process, from `/proc/<pid>/status` (`VmRSS`), in bytes.
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("reading the API's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("a VmRSS line")
            * 1024
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
