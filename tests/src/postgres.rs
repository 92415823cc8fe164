//! A throwaway PostgreSQL 18 (with pgvector) server.
//!
//! `initdb` refuses to run as root, so when the tests run as root the server runs as an
//! unprivileged user (`MEDIADOCS_PG_USER`, default `mediadocs-pg`).

use std::{os::unix::process::CommandExt, path::PathBuf, process::Command, time::Duration};

use sqlx::{Connection, PgConnection};
use tempfile::TempDir;

use crate::{process::Server, tools, wait};

pub struct PgServer {
    server: Server,
    pub port: u16,
    // Declared after `server`, so the server is killed before its directory is removed.
    _dir: TempDir,
}

fn pg_bin(name: &str) -> PathBuf {
    tools::binary(&format!("pg/{name}"))
}

impl PgServer {
    /// Initialises a cluster in a fresh directory and starts it on a free port.
    pub async fn start(label: &str) -> anyhow::Result<Self> {
        let dir = tools::scratch_dir(&format!("postgres-{label}"));
        let ids = tools::postgres_user()
            .map(|u| crate::process::user_ids(&u))
            .transpose()?;
        if let Some((uid, gid)) = ids {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
        }
        let as_pg_user = |mut c: Command| {
            if let Some((uid, gid)) = ids {
                c.uid(uid).gid(gid);
            }
            c
        };
        let data = dir.path().join("data");
        let mut initdb = Command::new(pg_bin("initdb"));
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ]);
        let out = as_pg_user(initdb).output()?;
        anyhow::ensure!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        for _attempt in 0..3 {
            let port = wait::free_port();
            let mut postgres = Command::new(pg_bin("postgres"));
            postgres
                .arg("-D")
                .arg(&data)
                .arg("-k")
                .arg(dir.path())
                .arg("-p")
                .arg(port.to_string())
                .args(["-c", "listen_addresses=127.0.0.1"])
                .args(["-c", "max_connections=300"]);
            // Durability buys nothing in a throwaway cluster and costs seconds per test; a
            // bench that wants commits to cost what they cost in production sets
            // MEDIADOCS_TEST_PG_DURABLE=1.
            if std::env::var("MEDIADOCS_TEST_PG_DURABLE").as_deref() != Ok("1") {
                postgres.args([
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                ]);
            }
            let log = dir.path().join("postgres.log");
            let mut server = Server::spawn("postgres", as_pg_user(postgres), &log, libc::SIGQUIT)?;
            let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
            let ready = server
                .wait_ready(Duration::from_secs(30), || async {
                    PgConnection::connect(&url).await.is_ok()
                })
                .await;
            if ready {
                return Ok(Self {
                    server,
                    port,
                    _dir: dir,
                });
            }
            // Most likely the port was taken between choosing and binding it: try another.
            tracing::warn!(log = %std::fs::read_to_string(&log).unwrap_or_default(), "postgres did not start");
        }
        anyhow::bail!("postgres did not start after 3 attempts")
    }

    /// The superuser's URL for `database`.
    pub fn url(&self, database: &str) -> String {
        self.url_as("postgres", database)
    }

    pub fn url_as(&self, role: &str, database: &str) -> String {
        format!("postgres://{role}@127.0.0.1:{}/{database}", self.port)
    }

    /// Fast shutdown: aborts open transactions and disconnects clients.
    pub fn stop(&mut self) {
        self.server.stop(libc::SIGINT);
    }
}
