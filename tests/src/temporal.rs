//! A Temporal dev server with the pipeline's search attributes registered: in memory, or
//! persisted to a SQLite file so that it can be stopped and started again.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use mediadocs_settings::TemporalSettings;
use tempfile::TempDir;

use crate::{process::Server, tools, wait};

pub struct TemporalServer {
    server: Server,
    pub port: u16,
    /// The SQLite file of a persistent server.
    database: Option<PathBuf>,
    dir: TempDir,
}

impl TemporalServer {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_in(tools::scratch_dir("temporal"), false).await
    }

    /// A server whose state survives [`TemporalServer::restart`].
    pub async fn start_persistent() -> anyhow::Result<Self> {
        Self::start_in(tools::scratch_dir("temporal"), true).await
    }

    async fn start_in(dir: TempDir, persistent: bool) -> anyhow::Result<Self> {
        let database = persistent.then(|| dir.path().join("temporal.db"));
        for _attempt in 0..3 {
            let port = wait::free_port();
            if let Some(server) = spawn(dir.path(), port, database.as_deref()).await? {
                return Ok(Self {
                    server,
                    port,
                    database,
                    dir,
                });
            }
        }
        anyhow::bail!("the Temporal dev server did not start after 3 attempts")
    }

    /// Stops the server as an operator would (SIGTERM) and starts it again on the same port
    /// and database.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.database.is_some(),
            "an in-memory server loses everything"
        );
        self.server.stop(libc::SIGTERM);
        for _attempt in 0..20 {
            if let Some(server) =
                spawn(self.dir.path(), self.port, self.database.as_deref()).await?
            {
                self.server = server;
                return Ok(());
            }
            // The old listener may take a moment to release the port.
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        anyhow::bail!(
            "the Temporal dev server did not come back on port {}",
            self.port
        )
    }

    pub fn settings(&self, task_queue: &str) -> TemporalSettings {
        settings(self.port, task_queue)
    }
}

/// Starts a server; `None` when it exited or did not answer in time.
async fn spawn(dir: &Path, port: u16, database: Option<&Path>) -> anyhow::Result<Option<Server>> {
    let mut command = Command::new(tools::binary("temporal"));
    command
        .args(["server", "start-dev", "--headless", "--ip", "127.0.0.1"])
        .args(["--port", &port.to_string(), "--log-level", "warn"]);
    if let Some(database) = database {
        command.arg("--db-filename").arg(database);
    }
    for attribute in mediadocs_workflows::names::SEARCH_ATTRIBUTES {
        command.args(["--search-attribute", &format!("{attribute}=Keyword")]);
    }
    let log = dir.join(format!("temporal-{port}.log"));
    let mut server = Server::spawn("temporal", command, &log, libc::SIGKILL)?;
    let settings = settings(port, "unused");
    let ready = server
        .wait_ready(Duration::from_secs(60), || async {
            mediadocs_store::connect::temporal(&settings, "mediadocs-tests")
                .await
                .is_ok()
        })
        .await;
    if ready {
        return Ok(Some(server));
    }
    tracing::warn!(log = %std::fs::read_to_string(&log).unwrap_or_default(), "temporal did not start");
    Ok(None)
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
