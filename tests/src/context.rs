//! One test's slice of the shared servers: its own database, task queue and bucket.

use mediadocs_config::{DatabaseSettings, S3Settings, TemporalSettings, connect};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, PgPool};

use crate::services::{self, Services, TEMPLATE_DB};

pub struct TestContext {
    pub services: &'static Services,
    pub database: String,
    pub pool: PgPool,
    pub temporal: temporalio_client::Client,
    pub task_queue: String,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
}

impl TestContext {
    pub async fn new() -> Self {
        let services = tokio::task::block_in_place(services::get);
        let id = uuid::Uuid::new_v4().simple().to_string();
        let database = format!("test_{id}");
        let mut admin = PgConnection::connect(&services.postgres.url("postgres"))
            .await
            .expect("connecting to the test PostgreSQL");
        admin
            .execute(AssertSqlSafe(format!(
                "CREATE DATABASE {database} TEMPLATE {TEMPLATE_DB}"
            )))
            .await
            .expect("cloning the migrated template database");
        admin.close().await.ok();

        let task_queue = format!("test-{id}");
        let bucket = format!("test-{}", &id[..20]);
        let mut ctx = Self {
            services,
            pool: connect::postgres(&DatabaseSettings {
                url: services.postgres.url(&database).into(),
                max_connections: 5,
            })
            .expect("a valid database URL"),
            database,
            temporal: connect::temporal(
                &services.temporal.settings(&task_queue),
                "mediadocs-tests",
            )
            .await
            .expect("connecting to the test Temporal server"),
            task_queue,
            s3: connect::s3(&services.s3.settings(&bucket)),
            bucket: String::new(),
        };
        ctx.s3
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("creating the test bucket");
        ctx.bucket = bucket;
        ctx
    }

    pub fn database_settings(&self) -> DatabaseSettings {
        DatabaseSettings {
            url: self.services.postgres.url(&self.database).into(),
            max_connections: 5,
        }
    }

    pub fn temporal_settings(&self) -> TemporalSettings {
        self.services.temporal.settings(&self.task_queue)
    }

    pub fn s3_settings(&self) -> S3Settings {
        self.services.s3.settings(&self.bucket)
    }

    /// API settings pointing at this test's slice, with a port chosen at bind time.
    pub fn api_settings(&self) -> mediadocs_api::ApiSettings {
        mediadocs_api::ApiSettings {
            addr: "127.0.0.1:0".parse().expect("a valid address"),
            log_format: mediadocs_config::telemetry::LogFormat::Text,
            diagnostics: true,
            database: self.database_settings(),
            temporal: self.temporal_settings(),
            s3: self.s3_settings(),
        }
    }
}
