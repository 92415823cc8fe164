//! Building clients from settings.

use std::time::Duration;

use anyhow::Context;
use aws_credential_types::Credentials;
use secrecy::ExposeSecret;
use sqlx::{PgPool, postgres::PgPoolOptions};
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions};

use mediadocs_settings::{DatabaseSettings, S3Settings, TemporalSettings};

/// Connects a pool. Connecting is lazy so a process can start, and report not-ready,
/// while PostgreSQL is still coming up.
pub fn postgres(settings: &DatabaseSettings) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy(settings.url.expose_secret())
        .context("DATABASE_URL is not a valid connection string")
}

/// Applies the embedded migrations as the schema owner (`DATABASE_MIGRATION_URL`, or
/// `DATABASE_URL` when that is unset). Safe to run from several processes at once: sqlx
/// takes an advisory lock.
pub async fn migrate(settings: &DatabaseSettings) -> anyhow::Result<()> {
    use sqlx::Connection;
    let url = settings.migration_url.as_ref().unwrap_or(&settings.url);
    let mut conn = sqlx::PgConnection::connect(url.expose_secret())
        .await
        .context("connecting to PostgreSQL to apply migrations")?;
    crate::MIGRATOR
        .run(&mut conn)
        .await
        .context("applying migrations")?;
    conn.close().await.ok();
    Ok(())
}

/// Connects to the Temporal frontend and checks that it answers.
pub async fn temporal(settings: &TemporalSettings, identity: &str) -> anyhow::Result<Client> {
    let options = ConnectionOptions::new(settings.address.clone())
        .identity(identity.to_owned())
        .connect_timeout(Duration::from_secs(5))
        .build();
    let connection = Connection::connect(options)
        .await
        .with_context(|| format!("connecting to Temporal at {}", settings.address))?;
    Client::new(
        connection,
        ClientOptions::new(settings.namespace.clone()).build(),
    )
    .context("creating the Temporal client")
}

/// Builds an S3 client. No request is made until the client is used.
pub fn s3(settings: &S3Settings) -> aws_sdk_s3::Client {
    let credentials = Credentials::new(
        settings.access_key_id.clone(),
        settings.secret_access_key.expose_secret().to_owned(),
        None,
        None,
        "mediadocs-store",
    );
    let mut builder = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(settings.region.clone()))
        .credentials_provider(credentials)
        .force_path_style(settings.force_path_style)
        // Checksums only where the operation demands them: S3-compatible servers differ in
        // which of the newer flexible-checksum headers they understand.
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired);
    if let Some(endpoint) = &settings.endpoint {
        builder = builder.endpoint_url(endpoint.as_str().trim_end_matches('/'));
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}
