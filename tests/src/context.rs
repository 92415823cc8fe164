//! One test's slice of the shared servers: its own database, task queue and bucket.

use mediadocs_settings::{DatabaseSettings, S3Settings, TemporalSettings};
use mediadocs_store::connect;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, PgPool};

use crate::services::{self, APP_ROLE, Services, TEMPLATE_DB};

pub struct TestContext {
    pub services: &'static Services,
    pub database: String,
    /// Connected as the application role: row-level security applies.
    pub pool: PgPool,
    /// Connected as the superuser, for setting up and inspecting state behind the API.
    pub owner_pool: PgPool,
    pub temporal: temporalio_client::Client,
    pub task_queue: String,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    /// Set by [`TestContext::use_temporal`]: this test's own Temporal server.
    own_temporal: Option<TemporalSettings>,
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
            pool: connect::postgres(&database_settings(services, &database)).expect("a valid URL"),
            owner_pool: connect::postgres(&DatabaseSettings {
                url: services.postgres.url(&database).into(),
                migration_url: None,
                max_connections: 3,
            })
            .expect("a valid URL"),
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
            own_temporal: None,
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
        database_settings(self.services, &self.database)
    }

    pub fn temporal_settings(&self) -> TemporalSettings {
        self.own_temporal
            .clone()
            .unwrap_or_else(|| self.services.temporal.settings(&self.task_queue))
    }

    /// Moves this test onto a Temporal server of its own (one it may stop and restart); the
    /// API instances and workers it starts afterwards use that server.
    pub async fn use_temporal(&mut self, server: &crate::temporal::TemporalServer) {
        let settings = server.settings(&self.task_queue);
        self.temporal = connect::temporal(&settings, "mediadocs-tests")
            .await
            .expect("connecting to the test's own Temporal server");
        self.own_temporal = Some(settings);
    }

    pub fn s3_settings(&self) -> S3Settings {
        self.services.s3.settings(&self.bucket)
    }

    /// API settings pointing at this test's slice, with a port chosen at bind time.
    pub fn api_settings(&self) -> mediadocs_api::ApiSettings {
        mediadocs_api::ApiSettings {
            addr: "127.0.0.1:0".parse().expect("a valid address"),
            log_format: mediadocs_settings::telemetry::LogFormat::Text,
            diagnostics: true,
            cors_origins: vec!["https://app.example.com".into()],
            auth: test_auth_settings(),
            webhooks: test_webhook_settings(),
            chat: test_chat_settings(),
            events: mediadocs_settings::events::EventSettings {
                allowed_origins: vec!["https://app.example.com".into()],
                ..Default::default()
            },
            uploads: mediadocs_settings::api::UploadSettings {
                part_size: 8 * 1024 * 1024,
                max_size: 10 * 1024 * 1024 * 1024,
                url_ttl: std::time::Duration::from_secs(900),
                upload_ttl: std::time::Duration::from_secs(24 * 3600),
                max_concurrent_per_org: 20,
                first_batch: 16,
            },
            database: self.database_settings(),
            temporal: self.temporal_settings(),
            s3: self.s3_settings(),
            reading: mediadocs_settings::api::ReadingSettings {
                media_url_ttl: std::time::Duration::from_secs(120),
                app_url: "https://app.example.com".parse().expect("a valid URL"),
            },
        }
    }
}

fn database_settings(services: &Services, database: &str) -> DatabaseSettings {
    DatabaseSettings {
        url: services.postgres.url_as(APP_ROLE, database).into(),
        migration_url: Some(services.postgres.url(database).into()),
        max_connections: 5,
    }
}

/// Auth settings for tests: a fixed key pair (`test-1` signs, `test-0` still verifies) and
/// the production defaults otherwise.
pub fn test_auth_settings() -> mediadocs_settings::api::AuthSettings {
    use std::time::Duration;
    mediadocs_settings::api::AuthSettings {
        jwt_keys: mediadocs_settings::api::JwtKeySet(vec![
            ("test-1".into(), TEST_JWT_SECRET.to_vec()),
            (
                "test-0".into(),
                b"an-older-key-that-still-verifies!!".to_vec(),
            ),
        ]),
        issuer: "mediadocs".into(),
        audience: "mediadocs-api".into(),
        access_ttl: Duration::from_secs(900),
        refresh_ttl: Duration::from_secs(30 * 24 * 3600),
        invite_ttl: Duration::from_secs(7 * 24 * 3600),
        login_per_account: std::num::NonZeroU32::new(5).unwrap(),
        login_per_ip: std::num::NonZeroU32::new(1000).unwrap(),
        trust_forwarded_for: true,
    }
}

/// The signing secret of `test-1`, for tests that forge tokens.
pub const TEST_JWT_SECRET: &[u8] = b"the-test-signing-key-0123456789ab";

/// The key behind callback tokens in tests; the worker side mints with the same one.
pub const TEST_WEBHOOK_TOKEN_KEY: &[u8] = b"the-test-webhook-token-key-0123456789";

/// The Standard Webhooks secrets self-hosted callbacks may be signed with in tests: the
/// current one and one being rotated out.
pub const TEST_SELFHOSTED_SECRETS: [&str; 2] = [
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
];

pub fn test_job_tokens() -> mediadocs_providers::webhook::job_token::JobTokens {
    mediadocs_providers::webhook::job_token::JobTokens::new(TEST_WEBHOOK_TOKEN_KEY.to_vec())
        .expect("the test key is long enough")
}

pub fn test_webhook_settings() -> mediadocs_settings::api::WebhookSettings {
    use mediadocs_settings::api::WebhookSecret;
    mediadocs_settings::api::WebhookSettings {
        token_key: test_webhook_token_key(),
        selfhosted_secrets: TEST_SELFHOSTED_SECRETS
            .iter()
            .map(|s| WebhookSecret::parse(s).expect("a valid test secret"))
            .collect(),
    }
}

pub fn test_webhook_token_key() -> mediadocs_settings::transcription::WebhookTokenKey {
    mediadocs_settings::transcription::WebhookTokenKey::new(TEST_WEBHOOK_TOKEN_KEY.to_vec())
        .expect("the test key is long enough")
}

/// Chat against an unreachable LLM (tests that chat point it at a simulator) and the real
/// local embedder, which is loaded only when a test first asks a question.
pub fn test_chat_settings() -> mediadocs_api::chat::ChatSettings {
    mediadocs_api::chat::ChatSettings::with_providers(
        mediadocs_providers::llm::LlmSettings::for_base_url(
            "http://127.0.0.1:9/v1".parse().expect("a URL"),
            "unused",
        ),
        crate::worker::local_embeddings(),
    )
}
