//! Transcription providers.
//!
//! Two shapes, because providers come in two: [`AsyncTranscriber`]s take a URL to the audio,
//! work for minutes, and call us back (AssemblyAI, Deepgram, and self-hosted transcribers
//! that speak AssemblyAI's API and sign their callbacks with Standard Webhooks), while
//! [`whisper::WhisperClient`] transcribes the bytes it is sent, synchronously, within the
//! request. Every provider's output becomes the same [`Transcript`] of timed segments.

pub mod assemblyai;
mod client;
pub mod deepgram;
mod segments;
pub mod whisper;

use mediadocs_workflows::FailureKind;
use serde::{Deserialize, Serialize};

pub use client::{async_transcriber, sync_transcriber};
pub use mediadocs_settings::transcription::{Provider, TranscriptionSettings};

/// One timed stretch of speech.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
    pub speaker: Option<String>,
    pub confidence: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub language: Option<String>,
    pub duration_ms: Option<i64>,
    pub segments: Vec<Segment>,
}

impl Transcript {
    /// A transcript without a word of speech is a result of its own, not an empty document.
    pub fn require_speech(self) -> Result<Self, TranscriptionError> {
        if self.segments.iter().all(|s| s.text.trim().is_empty()) {
            return Err(TranscriptionError::NoSpeech);
        }
        Ok(self)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TranscriptionError {
    /// The provider could not be reached, timed out, or answered 429/5xx: try again later.
    #[error("transcription provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request (bad key, bad audio URL, bad parameters).
    #[error("transcription provider rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// The provider's answer was not what its API documents: truncated or malformed.
    #[error("malformed {provider} payload: {detail}")]
    Malformed { provider: Provider, detail: String },
    /// The provider tried and gave up on this audio.
    #[error("the provider failed to transcribe the audio: {0}")]
    Failed(String),
    /// The audio holds no speech.
    #[error("the recording contains no speech")]
    NoSpeech,
    /// The provider cannot do what was asked (polling Deepgram, say).
    #[error("{0}")]
    Unsupported(&'static str),
}

impl TranscriptionError {
    pub fn is_retryable(&self) -> bool {
        self.kind().retryable()
    }

    /// The failure's stable name, used as the Temporal failure type.
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::Unavailable(_) => FailureKind::TranscriptionUnavailable,
            Self::Rejected { .. } => FailureKind::TranscriptionRejected,
            Self::Malformed { .. } => FailureKind::MalformedProviderPayload,
            Self::Failed(_) => FailureKind::TranscriptionFailed,
            Self::NoSpeech => FailureKind::NoSpeech,
            Self::Unsupported(_) => FailureKind::TranscriptionUnsupported,
        }
    }

    fn malformed(provider: Provider, detail: impl std::fmt::Display) -> Self {
        Self::Malformed {
            provider,
            detail: detail.to_string(),
        }
    }
}

/// What a job submission needs: where the audio is, and where to call back.
#[derive(Debug, Clone)]
pub struct Submission<'a> {
    /// A presigned GET URL with a short lifetime.
    pub audio_url: &'a str,
    pub callback_url: &'a str,
    /// A header the provider must send back with the callback (name, value).
    pub callback_header: Option<(&'a str, &'a str)>,
    pub language: Option<&'a str>,
}

/// A job's state at the provider.
#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    Pending,
    Completed(Transcript),
    Failed(String),
    /// The provider no longer knows the job (a self-hosted server restarted and lost its
    /// queue, say): it will never finish, and must be submitted again.
    Lost(String),
}

/// What a callback says, once authenticated.
#[derive(Debug, Clone, PartialEq)]
pub struct Callback {
    pub provider_job_id: String,
    pub status: CallbackStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallbackStatus {
    Completed,
    Failed,
}

impl CallbackStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }
}

/// A provider that works on a URL and reports back through a webhook.
#[async_trait::async_trait]
pub trait AsyncTranscriber: Send + Sync {
    fn provider(&self) -> Provider;

    /// Starts a job; returns the provider's ID for it.
    async fn submit(&self, job: &Submission<'_>) -> Result<String, TranscriptionError>;

    /// The job's state now: the fallback when a callback does not come.
    async fn fetch(&self, provider_job_id: &str) -> Result<JobState, TranscriptionError>;

    /// The transcript carried by a callback body, for providers whose callbacks carry one
    /// (Deepgram); `None` means the transcript must be fetched.
    fn transcript_in_callback(&self, body: &[u8]) -> Result<Option<JobState>, TranscriptionError>;
}

/// Parses a callback body (raw bytes, after its authentication was checked).
pub fn parse_callback(provider: Provider, body: &[u8]) -> Result<Callback, TranscriptionError> {
    match provider {
        Provider::AssemblyAi | Provider::SelfHosted => assemblyai::parse_callback(provider, body),
        Provider::Deepgram => deepgram::parse_callback(body),
        Provider::Whisper => Err(TranscriptionError::Unsupported(
            "Whisper is synchronous and has no callbacks",
        )),
    }
}

/// Maps an HTTP error status the way every provider here means it.
fn status_error(status: reqwest::StatusCode, body: String) -> TranscriptionError {
    let message: String = body.chars().take(500).collect();
    if status.as_u16() == 429 || status.as_u16() == 408 || status.is_server_error() {
        TranscriptionError::Unavailable(format!("{status}: {message}"))
    } else {
        TranscriptionError::Rejected {
            status: status.as_u16(),
            message,
        }
    }
}

fn transport_error(e: reqwest::Error) -> TranscriptionError {
    TranscriptionError::Unavailable(e.to_string())
}
