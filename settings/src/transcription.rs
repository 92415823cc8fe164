//! Which transcription provider the worker uses, how patiently it waits, how Whisper's
//! audio is cut, and how providers' callbacks reach and authenticate with our API.

use std::time::Duration;

use base64::Engine;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::env::{self, ConfigError};
use secrecy::SecretString;

/// Which provider a job went to. Its name appears in webhook URLs and in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    AssemblyAi,
    Deepgram,
    /// A self-hosted transcriber: AssemblyAI's API, Standard Webhooks signatures.
    SelfHosted,
    Whisper,
}

impl Provider {
    pub const ALL: [Self; 4] = [
        Self::AssemblyAi,
        Self::Deepgram,
        Self::SelfHosted,
        Self::Whisper,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AssemblyAi => "assemblyai",
            Self::Deepgram => "deepgram",
            Self::SelfHosted => "selfhosted",
            Self::Whisper => "whisper",
        }
    }

    /// Whether the provider calls us back (and so has a webhook endpoint).
    pub const fn is_async(self) -> bool {
        !matches!(self, Self::Whisper)
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Provider {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|p| p.as_str() == s).ok_or(())
    }
}

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
            timeout: env::secs_or("TRANSCRIPTION_TIMEOUT_SECS", "60")?,
            webhook_public_url: http_url("WEBHOOK_PUBLIC_URL", "http://127.0.0.1:8080")?,
        })
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

/// `TRANSCRIPTION_POLL_INTERVAL_SECS` (300), `TRANSCRIPTION_GIVE_UP_SECS` (21600: 6 hours),
/// `TRANSCRIPTION_AUDIO_URL_TTL_SECS` (3600: how long the provider may take to start
/// downloading the audio).
#[derive(Debug, Clone, Copy)]
pub struct TranscriptionTiming {
    pub poll_interval: Duration,
    pub give_up_after: Duration,
    pub audio_url_ttl: Duration,
}

impl TranscriptionTiming {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            poll_interval: env::secs_or("TRANSCRIPTION_POLL_INTERVAL_SECS", "300")?,
            give_up_after: env::secs_or("TRANSCRIPTION_GIVE_UP_SECS", "21600")?,
            audio_url_ttl: env::secs_or("TRANSCRIPTION_AUDIO_URL_TTL_SECS", "3600")?,
        })
    }
}

/// The most audio one Whisper request may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimits {
    pub max_secs: u64,
    pub max_bytes: u64,
}

/// `TRANSCRIPTION_CHUNK_MAX_SECS` (600), `TRANSCRIPTION_CHUNK_MAX_BYTES` (24000000: under
/// OpenAI's 25 MB request limit), `TRANSCRIPTION_CHUNK_CONCURRENCY` (3 requests at once).
#[derive(Debug, Clone, Copy)]
pub struct ChunkedTranscriptionSettings {
    pub limits: ChunkLimits,
    pub concurrency: usize,
}

impl ChunkedTranscriptionSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            limits: ChunkLimits {
                max_secs: env::var_or(
                    "TRANSCRIPTION_CHUNK_MAX_SECS",
                    "600",
                    "a number of seconds",
                )?,
                max_bytes: env::var_or(
                    "TRANSCRIPTION_CHUNK_MAX_BYTES",
                    "24000000",
                    "a byte count",
                )?,
            },
            concurrency: env::var_or("TRANSCRIPTION_CHUNK_CONCURRENCY", "3", "a positive number")?,
        })
    }
}

impl Default for ChunkedTranscriptionSettings {
    fn default() -> Self {
        Self {
            limits: ChunkLimits {
                max_secs: 600,
                max_bytes: 24_000_000,
            },
            concurrency: 3,
        }
    }
}

/// The server key behind each job's callback token and header value (`WEBHOOK_TOKEN_KEY`).
/// `Debug` never prints it.
#[derive(Clone)]
pub struct WebhookTokenKey(Vec<u8>);

impl std::fmt::Debug for WebhookTokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookTokenKey(…)")
    }
}

impl WebhookTokenKey {
    pub const MIN_BYTES: usize = 32;

    /// `key` must hold at least [`Self::MIN_BYTES`] bytes.
    pub fn new(key: Vec<u8>) -> Option<Self> {
        (key.len() >= Self::MIN_BYTES).then_some(Self(key))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// `WEBHOOK_TOKEN_KEY`: base64 of at least 32 random bytes, the same for the API (which
    /// checks tokens) and the worker (which mints them). Required.
    pub fn from_env() -> Result<Self, ConfigError> {
        const VAR: &str = "WEBHOOK_TOKEN_KEY";
        const EXPECTED: &str = "base64 of at least 32 random bytes";
        let text: String = env::required(VAR, EXPECTED)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()
            .and_then(Self::new)
            .ok_or(ConfigError::Invalid {
                var: VAR,
                expected: EXPECTED,
                got: "(hidden)".into(),
            })
    }
}
