//! `mediadocs-transcription-simulator`: the transcription simulator as a process, for the
//! dev stack when no provider keys are configured. It transcribes nothing: it answers with the
//! sidecar transcript of each media file in its media directory (see
//! `mediadocs_dev::transcription`).
//!
//! Environment:
//!   TRANSCRIPTION_SIMULATOR_ADDR            listen address (127.0.0.1:8790)
//!   TRANSCRIPTION_SIMULATOR_MEDIA_DIR       media files with `<name>.transcript.json` sidecars
//!   TRANSCRIPTION_SIMULATOR_SIGNING_SECRET  whsec_… to sign callbacks (Standard Webhooks)
//!   TRANSCRIPTION_SIMULATOR_API_KEY         the API key clients must send (none: any)

use mediadocs_dev::transcription::{Options, TranscriptionSimulator};
use mediadocs_providers::webhook::standard::Secret;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = var("TRANSCRIPTION_SIMULATOR_ADDR").unwrap_or_else(|| "127.0.0.1:8790".into());
    let signing_secret = var("TRANSCRIPTION_SIMULATOR_SIGNING_SECRET")
        .map(|s| Secret::parse(&s))
        .transpose()
        .map_err(|e| anyhow::anyhow!("TRANSCRIPTION_SIMULATOR_SIGNING_SECRET: {e}"))?;
    let options = Options {
        signing_secret,
        api_key: var("TRANSCRIPTION_SIMULATOR_API_KEY"),
        media_dir: var("TRANSCRIPTION_SIMULATOR_MEDIA_DIR").map(Into::into),
    };
    let simulator = TranscriptionSimulator::start(&addr, options).await?;
    println!(
        "transcription simulator (not a real provider) listening on {}",
        simulator.base_url()
    );
    mediadocs_settings::shutdown::signal().await;
    Ok(())
}
