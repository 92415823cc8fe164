//! `mediadocs-api`: reads its settings, connects, applies migrations and serves until SIGTERM.

use anyhow::Context;
use mediadocs_api::{ApiSettings, AppState, app};
use mediadocs_config::{connect, env, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = env::or_exit(ApiSettings::from_env);
    telemetry::init(settings.log_format);

    let pool = connect::postgres(&settings.database)?;
    connect::migrate(&pool).await?;
    let temporal = connect::temporal(&settings.temporal, "mediadocs-api").await?;
    let s3 = connect::s3(&settings.s3);
    let listener = tokio::net::TcpListener::bind(settings.addr)
        .await
        .with_context(|| format!("binding {}", settings.addr))?;
    tracing::info!(addr = %settings.addr, "api listening");

    let state = AppState {
        pool,
        temporal,
        s3,
        settings: settings.into(),
    };
    axum::serve(listener, app(state))
        .with_graceful_shutdown(mediadocs_config::shutdown::signal())
        .await
        .context("serving")
}
