//! The servers every test in the binary shares, started once on first use.

use std::sync::OnceLock;

use crate::{postgres::PgServer, s3::S3Server, temporal::TemporalServer};

/// The name of the migrated database each test's database is cloned from.
pub const TEMPLATE_DB: &str = "mediadocs_template";

/// The login role the API and worker use in tests: a member of `mediadocs_app`, owning
/// nothing, so row-level security applies to it exactly as in production.
pub const APP_ROLE: &str = "mediadocs_api";

pub struct Services {
    pub postgres: PgServer,
    pub temporal: TemporalServer,
    pub s3: S3Server,
}

/// Starts the shared servers on first call. They run on a runtime of their own, because each
/// `#[tokio::test]` has its own runtime and the first test's ends before the last test starts.
pub fn get() -> &'static Services {
    static SERVICES: OnceLock<Services> = OnceLock::new();
    SERVICES.get_or_init(|| {
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for starting services");
            runtime
                .block_on(start())
                .expect("starting the shared test services")
        })
        .join()
        .expect("the service start-up thread panicked")
    })
}

async fn start() -> anyhow::Result<Services> {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn")
        .try_init();
    let (postgres, temporal, s3) = tokio::join!(
        PgServer::start("shared"),
        TemporalServer::start(),
        S3Server::start()
    );
    let postgres = postgres?;
    create_template(&postgres).await?;
    Ok(Services {
        postgres,
        temporal: temporal?,
        s3: s3?,
    })
}

async fn create_template(postgres: &PgServer) -> anyhow::Result<()> {
    use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
    let mut admin = PgConnection::connect(&postgres.url("postgres")).await?;
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE {TEMPLATE_DB}")))
        .await?;
    let mut template = PgConnection::connect(&postgres.url(TEMPLATE_DB)).await?;
    mediadocs_store::MIGRATOR.run(&mut template).await?;
    template
        .execute(AssertSqlSafe(format!(
            "CREATE ROLE {APP_ROLE} LOGIN IN ROLE mediadocs_app"
        )))
        .await?;
    template.close().await?;
    admin.close().await?;
    Ok(())
}
