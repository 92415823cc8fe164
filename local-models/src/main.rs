//! `mediadocs-local-models`: loads the models its settings name and serves them until SIGTERM
//! or Ctrl-C. A model that cannot be loaded stops it with one line and exit status 2.

use mediadocs_local_models::{server, startup};
use mediadocs_providers::webhook::standard::Secret;
use mediadocs_settings::{local_models::LocalModelsSettings, or_exit, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = or_exit(LocalModelsSettings::from_env);
    telemetry::init(settings.log_format);
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
    let loading = settings.clone();
    let models = match tokio::task::spawn_blocking(move || startup::load_models(&loading)).await? {
        Ok(models) => models,
        Err(e) => {
            eprintln!("mediadocs-local-models: {e}");
            std::process::exit(2);
        }
    };
    let secret = settings.webhook_secret.as_ref().map(Secret::from_settings);
    let state = server::AppState::new(models, settings.limits, secret, Some(metrics));
    let listener = tokio::net::TcpListener::bind(settings.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "serving");
    axum::serve(listener, server::router(state))
        .with_graceful_shutdown(mediadocs_settings::shutdown::signal())
        .await?;
    Ok(())
}
