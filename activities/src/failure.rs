//! Activity failures with our stable type names.

use mediadocs_workflows::FailureKind;
use temporalio_sdk::{ApplicationFailure, activities::ActivityError};

/// A failure of `kind`: Temporal retries it only if the kind is retryable, and the type
/// name reaches the workflow, the UI and the recording's story.
pub(crate) fn fail(kind: FailureKind, error: impl Into<anyhow::Error>) -> ActivityError {
    ApplicationFailure::builder(error.into())
        .type_name(kind.as_str().to_owned())
        .non_retryable(!kind.retryable())
        .build()
        .into()
}

/// `RecordingGone`: the recording was deleted while its pipeline ran.
pub(crate) fn gone(id: uuid::Uuid) -> ActivityError {
    fail(
        FailureKind::RecordingGone,
        anyhow::anyhow!("recording {id} is gone"),
    )
}

/// A failure of the store's recording rules: an illegal move is final, a database error is
/// retried.
pub(crate) fn recording_error(e: mediadocs_store::recordings::RecordingError) -> ActivityError {
    use mediadocs_store::recordings::RecordingError;
    match e {
        RecordingError::IllegalTransition { .. } => fail(FailureKind::IllegalTransition, e),
        RecordingError::Database(e) => anyhow::Error::new(e).into(),
    }
}
