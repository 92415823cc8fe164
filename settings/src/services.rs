//! The settings shared by the API, the worker and the operator CLI.
//!
//! Defaults fit the dev stack that `scripts/dev up` starts; `.env.example` lists them all.

use secrecy::SecretString;
use url::Url;

use crate::env::{self, ConfigError, flag_or, var_or};

/// PostgreSQL. `DATABASE_URL` holds credentials, so it stays secret in `Debug` output.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// The application role: owns no tables, so row-level security applies to it.
    pub url: SecretString,
    /// The schema owner, for migrations only. `None` means `url`.
    pub migration_url: Option<SecretString>,
    pub max_connections: u32,
}

impl DatabaseSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let url: String = var_or(
            "DATABASE_URL",
            "postgres://mediadocs:mediadocs@127.0.0.1:5432/mediadocs",
            "a postgres:// URL",
        )?;
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::Invalid {
                var: "DATABASE_URL",
                expected: "a postgres:// URL",
                got: "<redacted>".into(),
            });
        }
        let migration_url: Option<String> =
            env::optional("DATABASE_MIGRATION_URL", "a postgres:// URL")?;
        Ok(Self {
            url: url.into(),
            migration_url: migration_url.map(Into::into),
            max_connections: var_or("DATABASE_MAX_CONNECTIONS", "10", "a positive integer")?,
        })
    }
}

/// The Temporal frontend, namespace and task queue.
#[derive(Debug, Clone)]
pub struct TemporalSettings {
    pub address: Url,
    pub namespace: String,
    pub task_queue: String,
}

impl TemporalSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            address: var_or(
                "TEMPORAL_ADDRESS",
                "http://127.0.0.1:7233",
                "a URL such as http://127.0.0.1:7233",
            )?,
            namespace: var_or("TEMPORAL_NAMESPACE", "default", "a namespace name")?,
            task_queue: var_or("TEMPORAL_TASK_QUEUE", "mediadocs", "a task queue name")?,
        })
    }
}

/// The object store. Any S3-compatible server works; local ones need path-style addressing.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// `None` means AWS's own regional endpoint.
    pub endpoint: Option<Url>,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub force_path_style: bool,
}

impl S3Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let endpoint: String = var_or(
            "S3_ENDPOINT",
            "http://127.0.0.1:9000",
            "a URL, or `aws` for AWS's own endpoint",
        )?;
        let endpoint = match endpoint.as_str() {
            "aws" => None,
            other => Some(other.parse().map_err(|_| ConfigError::Invalid {
                var: "S3_ENDPOINT",
                expected: "a URL, or `aws` for AWS's own endpoint",
                got: other.to_owned(),
            })?),
        };
        let secret: String = var_or("S3_SECRET_ACCESS_KEY", "mediadocs-secret", "a secret key")?;
        Ok(Self {
            endpoint,
            bucket: var_or("S3_BUCKET", "mediadocs", "a bucket name")?,
            region: var_or("S3_REGION", "us-east-1", "a region name")?,
            access_key_id: var_or("S3_ACCESS_KEY_ID", "mediadocs", "an access key id")?,
            secret_access_key: secret.into(),
            force_path_style: flag_or("S3_FORCE_PATH_STYLE", true)?,
        })
    }
}
