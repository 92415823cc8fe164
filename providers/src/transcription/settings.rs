//! Which transcription provider the worker uses, and how our webhooks are reached.

use std::{sync::Arc, time::Duration};

use mediadocs_config::env::{self, ConfigError};
use secrecy::SecretString;
use url::Url;

use super::{AsyncTranscriber, Provider, assemblyai::AssemblyAi, deepgram::Deepgram};

#[derive(Debug, Clone)]
pub struct TranscriptionSettings {
    pub provider: Provider,
    pub base_url: Url,
    pub api_key: Option<SecretString>,
    /// The model name sent to Whisper-compatible servers.
    pub model: String,
    /// Per HTTP request to the provider.
    pub timeout: Duration,
    /// Where providers reach our API: callbacks go to
    /// `{WEBHOOK_PUBLIC_URL}/api/webhooks/transcription/{provider}`.
    pub webhook_public_url: Url,
}

impl TranscriptionSettings {
    /// - `TRANSCRIPTION_PROVIDER`: `assemblyai`, `deepgram`, `selfhosted` (default) or `whisper`.
    /// - `TRANSCRIPTION_BASE_URL`: defaults to the provider's public API; for `selfhosted`,
    ///   to the transcription simulator the dev stack starts (`http://127.0.0.1:8790`).
    /// - `TRANSCRIPTION_API_KEY`: the provider's key (unset for local servers).
    /// - `TRANSCRIPTION_MODEL` (`whisper-1`), `TRANSCRIPTION_TIMEOUT_SECS` (60).
    /// - `WEBHOOK_PUBLIC_URL` (`http://127.0.0.1:8080`): the API as the provider sees it.
    pub fn from_env() -> Result<Self, ConfigError> {
        let provider: String = env::var_or(
            "TRANSCRIPTION_PROVIDER",
            "selfhosted",
            "one of assemblyai, deepgram, selfhosted, whisper",
        )?;
        let provider: Provider = provider.parse().map_err(|()| ConfigError::Invalid {
            var: "TRANSCRIPTION_PROVIDER",
            expected: "one of assemblyai, deepgram, selfhosted, whisper",
            got: provider.clone(),
        })?;
        let default_url = match provider {
            Provider::AssemblyAi => "https://api.assemblyai.com",
            Provider::Deepgram => "https://api.deepgram.com",
            Provider::SelfHosted => "http://127.0.0.1:8790",
            Provider::Whisper => "https://api.openai.com/v1",
        };
        Ok(Self {
            provider,
            base_url: env::var_or("TRANSCRIPTION_BASE_URL", default_url, "an http(s) URL")?,
            api_key: env::optional::<String>("TRANSCRIPTION_API_KEY", "the provider's API key")?
                .map(SecretString::from),
            model: env::var_or("TRANSCRIPTION_MODEL", "whisper-1", "a model name")?,
            timeout: Duration::from_secs(env::var_or(
                "TRANSCRIPTION_TIMEOUT_SECS",
                "60",
                "a number of seconds",
            )?),
            webhook_public_url: http_url("WEBHOOK_PUBLIC_URL", "http://127.0.0.1:8080")?,
        })
    }

    /// The client for an asynchronous provider; `None` for Whisper.
    pub fn async_transcriber(&self) -> Option<Arc<dyn AsyncTranscriber>> {
        match self.provider {
            Provider::AssemblyAi | Provider::SelfHosted => Some(Arc::new(AssemblyAi::new(self))),
            Provider::Deepgram => Some(Arc::new(Deepgram::new(self))),
            Provider::Whisper => None,
        }
    }

    /// The client for the synchronous provider; `None` for the asynchronous ones.
    pub fn sync_transcriber(&self) -> Option<Arc<super::whisper::WhisperClient>> {
        (self.provider == Provider::Whisper)
            .then(|| Arc::new(super::whisper::WhisperClient::new(self)))
    }

    /// `{WEBHOOK_PUBLIC_URL}/api/webhooks/transcription/{provider}?recording=…&job=…&token=…`
    pub fn callback_url(&self, recording_id: &str, job_id: &str, token: &str) -> Url {
        let mut url = self.webhook_public_url.clone();
        url.path_segments_mut()
            .expect("an http(s) URL has a path")
            .pop_if_empty()
            .extend(["api", "webhooks", "transcription", self.provider.as_str()]);
        url.query_pairs_mut()
            .append_pair("recording", recording_id)
            .append_pair("job", job_id)
            .append_pair("token", token);
        url
    }
}

/// An http(s) URL: callback URLs are built by appending path segments, which other schemes
/// (`mailto:`, say) do not have.
fn http_url(var: &'static str, default: &str) -> Result<Url, ConfigError> {
    const EXPECTED: &str = "an http(s) URL such as https://api.example.com";
    let url: Url = env::var_or(var, default, EXPECTED)?;
    if matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base() {
        Ok(url)
    } else {
        Err(ConfigError::Invalid {
            var,
            expected: EXPECTED,
            got: url.to_string(),
        })
    }
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
