//! A Temporal dev server (in memory) with the pipeline's search attributes registered.

use std::{process::Command, time::Duration};

use mediadocs_config::TemporalSettings;
use tempfile::TempDir;

use crate::{process::Server, tools, wait};

pub struct TemporalServer {
    _server: Server,
    pub port: u16,
    _dir: TempDir,
}

impl TemporalServer {
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tools::scratch_dir("temporal");
        for _attempt in 0..3 {
            let port = wait::free_port();
            let mut command = Command::new(tools::binary("temporal"));
            command
                .args(["server", "start-dev", "--headless", "--ip", "127.0.0.1"])
                .args(["--port", &port.to_string(), "--log-level", "warn"]);
            for attribute in mediadocs_workflows::names::SEARCH_ATTRIBUTES {
                command.args(["--search-attribute", &format!("{attribute}=Keyword")]);
            }
            let log = dir.path().join(format!("temporal-{port}.log"));
            let mut server = Server::spawn("temporal", command, &log, libc::SIGKILL)?;
            let settings = settings(port, "unused");
            let ready = server
                .wait_ready(Duration::from_secs(60), || async {
                    mediadocs_config::connect::temporal(&settings, "mediadocs-tests")
                        .await
                        .is_ok()
                })
                .await;
            if ready {
                return Ok(Self {
                    _server: server,
                    port,
                    _dir: dir,
                });
            }
            tracing::warn!(log = %std::fs::read_to_string(&log).unwrap_or_default(), "temporal did not start");
        }
        anyhow::bail!("the Temporal dev server did not start after 3 attempts")
    }

    pub fn settings(&self, task_queue: &str) -> TemporalSettings {
        settings(self.port, task_queue)
    }
}

fn settings(port: u16, task_queue: &str) -> TemporalSettings {
    TemporalSettings {
        address: format!("http://127.0.0.1:{port}")
            .parse()
            .expect("a valid URL"),
        namespace: "default".into(),
        task_queue: task_queue.into(),
    }
}
