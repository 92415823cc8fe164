//! Why a document step failed, and whether Temporal should try it again.

use mediadocs_providers::llm::LlmError;
use temporalio_sdk::{ApplicationFailure, activities::ActivityError};

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("recording {0} is gone")]
    RecordingGone(String),
    #[error("recording {0} has no transcript to write a document from")]
    TranscriptMissing(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error(transparent)]
    Llm(#[from] LlmError),
    /// Empty, cut short or invalid: another attempt of the model may do better.
    #[error("the LLM's answer was unusable: {0}")]
    OutputInvalid(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl DocumentError {
    /// The failure's type name, matched by the workflow's non-retryable list.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RecordingGone(_) => "RecordingGone",
            Self::TranscriptMissing(_) => "TranscriptMissing",
            Self::InvalidInput(_) => "InvalidInput",
            Self::OutputInvalid(_) | Self::Llm(LlmError::Empty { .. }) => "LlmOutputInvalid",
            Self::Llm(e) => match e.kind() {
                "unauthorized" => "LlmUnauthorized",
                "content_policy" => "LlmContentPolicy",
                "quota_exhausted" => "LlmQuotaExhausted",
                "context_length" => "LlmContextLength",
                "rejected" => "LlmRejected",
                "config" => "LlmConfig",
                "rate_limited" => "LlmRateLimited",
                "timeout" => "LlmTimeout",
                "malformed" | "interrupted" => "LlmMalformed",
                _ => "LlmUnavailable",
            },
            Self::Database(_) => "Database",
        }
    }

    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RecordingGone(_) | Self::TranscriptMissing(_) | Self::InvalidInput(_) => false,
            Self::Llm(e) => e.is_retryable(),
            Self::OutputInvalid(_) | Self::Database(_) => true,
        }
    }

    /// Typed either way, so the Temporal UI shows what went wrong after the last retry.
    pub fn into_activity_error(self) -> ActivityError {
        let kind = self.kind().to_owned();
        let retryable = self.is_retryable();
        if retryable {
            tracing::warn!(error = %self, kind, "document step failed; Temporal will retry");
        }
        ApplicationFailure::builder(self)
            .type_name(kind)
            .non_retryable(!retryable)
            .build()
            .into()
    }
}
