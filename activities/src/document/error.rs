//! Why a document step failed, and whether Temporal should try it again.

use mediadocs_providers::llm::LlmError;
use mediadocs_workflows::FailureKind;
use temporalio_sdk::activities::ActivityError;

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
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::RecordingGone(_) => FailureKind::RecordingGone,
            Self::TranscriptMissing(_) => FailureKind::TranscriptMissing,
            Self::InvalidInput(_) => FailureKind::InvalidInput,
            Self::OutputInvalid(_) => FailureKind::LlmOutputInvalid,
            Self::Llm(e) => e.failure_kind(),
            Self::Database(_) => FailureKind::Database,
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.kind().retryable()
    }

    /// Typed either way, so the Temporal UI shows what went wrong after the last retry.
    pub fn into_activity_error(self) -> ActivityError {
        let kind = self.kind();
        if kind.retryable() {
            tracing::warn!(error = %self, %kind, "document step failed; Temporal will retry");
        }
        crate::failure::fail(kind, self)
    }
}
