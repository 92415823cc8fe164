//! Building the configured provider's client, and the HTTP client they all use.

use std::{sync::Arc, time::Duration};

use super::{
    AsyncTranscriber, Provider, TranscriptionSettings, assemblyai::AssemblyAi, deepgram::Deepgram,
    whisper::WhisperClient,
};

/// The client for an asynchronous provider; `None` for Whisper.
pub fn async_transcriber(settings: &TranscriptionSettings) -> Option<Arc<dyn AsyncTranscriber>> {
    match settings.provider {
        Provider::AssemblyAi | Provider::SelfHosted => Some(Arc::new(AssemblyAi::new(settings))),
        Provider::Deepgram => Some(Arc::new(Deepgram::new(settings))),
        Provider::Whisper => None,
    }
}

/// The client for the synchronous provider; `None` for the asynchronous ones.
pub fn sync_transcriber(settings: &TranscriptionSettings) -> Option<Arc<WhisperClient>> {
    (settings.provider == Provider::Whisper).then(|| Arc::new(WhisperClient::new(settings)))
}

/// The HTTP client every provider client uses: bounded in time, never following redirects
/// to somewhere else with our key.
pub(super) fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client with rustls builds")
}
