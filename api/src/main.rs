//! `mediadocs-api`: reads its settings, connects, applies migrations and serves until SIGTERM.

use anyhow::Context;
use mediadocs_api::{ApiSettings, AppState, app};
use mediadocs_settings::{or_exit, telemetry};
use mediadocs_store::connect;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = or_exit(ApiSettings::from_env);
    telemetry::init(settings.log_format);

    connect::migrate(&settings.database).await?;
    let pool = connect::postgres(&settings.database)?;
    let temporal = connect::temporal(&settings.temporal, "mediadocs-api").await?;
    let s3 = connect::s3(&settings.s3);
    let listener = tokio::net::TcpListener::bind(settings.addr)
        .await
        .with_context(|| format!("binding {}", settings.addr))?;
    tracing::info!(addr = %settings.addr, "api listening");

    let state = AppState::new(pool, temporal, s3, settings);
    // Loads the local embedding model now, once, and stops here if chat is misconfigured.
    state
        .chat
        .ready()
        .await
        .context("chat's embedder and LLM client")?;
    let events = state.events.clone();
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        mediadocs_settings::shutdown::signal().await;
        // Live feeds would otherwise hold the shutdown open until their tokens expire.
        events.close();
    })
    .await
    .context("serving")
}
