//! The S3-compatible dev server (`mediadocs-dev-s3`: s3s-fs plus the checks it lacks) on a
//! scratch directory.

use std::{process::Command, time::Duration};

use mediadocs_settings::S3Settings;
use tempfile::TempDir;

use crate::{process::Server, tools, wait};

const ACCESS_KEY: &str = "mediadocs-test";
const SECRET_KEY: &str = "mediadocs-test-secret";

pub struct S3Server {
    _server: Server,
    pub port: u16,
    _dir: TempDir,
}

impl S3Server {
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tools::scratch_dir("s3");
        let root = dir.path().join("data");
        std::fs::create_dir_all(&root)?;
        for _attempt in 0..3 {
            let port = wait::free_port();
            // Same profile as the harness, so a release benchmark measures a release server.
            let binary = if cfg!(debug_assertions) {
                tools::workspace_binary("mediadocs-dev-s3")
            } else {
                tools::release_binary("mediadocs-dev-s3")
            };
            let mut command = Command::new(binary);
            command
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
                .arg(&root);
            let log = dir.path().join(format!("s3-{port}.log"));
            let mut server = Server::spawn("mediadocs-dev-s3", command, &log, libc::SIGKILL)?;
            let ready = server
                .wait_ready(Duration::from_secs(20), || wait::listening(port))
                .await;
            if ready {
                return Ok(Self {
                    _server: server,
                    port,
                    _dir: dir,
                });
            }
        }
        anyhow::bail!("mediadocs-dev-s3 did not start after 3 attempts")
    }

    pub fn settings(&self, bucket: &str) -> S3Settings {
        S3Settings {
            endpoint: Some(
                format!("http://127.0.0.1:{}", self.port)
                    .parse()
                    .expect("a valid URL"),
            ),
            bucket: bucket.into(),
            region: "us-east-1".into(),
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: SECRET_KEY.to_owned().into(),
            force_path_style: true,
        }
    }
}
