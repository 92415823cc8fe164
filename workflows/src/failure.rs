//! Why an activity or a pipeline failed, as stable names: the failure's type in Temporal
//! (what operators search and the retry policies match), and the recording's
//! `failed_stage` story. Each kind is named once, here, with whether retrying can help.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_common::{
    RetryPolicy,
    error::{ActivityExecutionError, ApplicationFailure, IncomingError},
};
use temporalio_workflow::WorkflowTermination;

macro_rules! failure_kinds {
    ($( $(#[$doc:meta])* $name:ident: $retry:ident ),* $(,)?) => {
        /// A failure's stable type name. Serialised as its name (`"RecordingGone"`), which is
        /// how it appears in histories, in `ApplicationFailure` types and in retry policies.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum FailureKind {
            $( $(#[$doc])* $name, )*
        }

        impl FailureKind {
            pub const ALL: &'static [Self] = &[$(Self::$name),*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                }
            }

            /// Whether another attempt may succeed.
            pub const fn retryable(self) -> bool {
                match self {
                    $(Self::$name => failure_kinds!(@retry $retry),)*
                }
            }
        }
    };
    (@retry retry) => { true };
    (@retry final) => { false };
}

failure_kinds! {
    /// The recording's row is gone: it was deleted while its pipeline ran.
    RecordingGone: final,
    /// An activity's input cannot be acted on (not an ID, an unknown stage).
    InvalidInput: final,
    /// A recording's status cannot move the way it was asked to.
    IllegalTransition: final,
    /// The stored object's size is not the size the upload declared.
    SizeMismatch: final,
    UnsupportedMedia: final,
    NoAudioTrack: final,
    CorruptMedia: final,
    /// Object storage could not be read: try again.
    StorageError: retry,
    TranscriptionUnavailable: retry,
    TranscriptionRejected: final,
    MalformedProviderPayload: final,
    TranscriptionFailed: final,
    NoSpeech: final,
    TranscriptionUnsupported: final,
    /// The provider did not finish within the configured give-up time.
    TranscriptionTimeout: final,
    TranscriptMissing: final,
    /// The model wrote something that is not a valid document; another attempt may.
    LlmOutputInvalid: retry,
    LlmUnauthorized: final,
    LlmContentPolicy: final,
    LlmQuotaExhausted: final,
    LlmContextLength: final,
    LlmRejected: final,
    LlmConfig: final,
    LlmRateLimited: retry,
    LlmTimeout: retry,
    LlmMalformed: retry,
    LlmUnavailable: retry,
    EmbeddingRejected: final,
    MalformedEmbeddingResponse: final,
    EmbeddingModelFailed: final,
    /// PostgreSQL could not be reached or refused a write: try again.
    Database: retry,
    /// An activity failed without one of our types (a timeout, a worker's panic).
    ActivityFailed: final,
}

impl FailureKind {
    /// The names retry policies stop on: every kind that retrying cannot fix.
    pub fn non_retryable() -> impl Iterator<Item = &'static str> {
        Self::ALL
            .iter()
            .filter(|k| !k.retryable())
            .map(|k| k.as_str())
    }

    /// The kind a failure's type name stands for; `None` for a type that is not ours.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == name)
    }
}

/// Exponential backoff, doubling from `first` to `longest`, for at most `attempts` attempts
/// (0: until it succeeds), that stops on every kind retrying cannot fix.
pub fn backoff(first: Duration, longest: Duration, attempts: u32) -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(first)
        .backoff_coefficient(2.0)
        .maximum_interval(longest)
        .maximum_attempts(attempts)
        .non_retryable_error_types(FailureKind::non_retryable())
        .build()
}

/// Why a stage failed: a stable type for operators, a message for the recording's owners.
pub struct StageFailure {
    pub kind: FailureKind,
    pub message: String,
    pub cancelled: bool,
}

impl From<ActivityExecutionError> for StageFailure {
    fn from(e: ActivityExecutionError) -> Self {
        let kind = match e.cause() {
            Some(IncomingError::Application(app)) => {
                app.type_name().and_then(FailureKind::from_name)
            }
            _ => None,
        };
        let message = e
            .failure()
            .and_then(|f| f.cause.as_ref())
            .map(|cause| cause.message.clone())
            .unwrap_or_else(|| e.to_string());
        Self {
            kind: kind.unwrap_or(FailureKind::ActivityFailed),
            message,
            cancelled: matches!(e, ActivityExecutionError::Cancelled(_)),
        }
    }
}

impl StageFailure {
    /// Fails the run with the failure's type, non-retryable: the stage already retried.
    pub fn into_termination(self, stage: &str) -> WorkflowTermination {
        ApplicationFailure::builder(format!("{stage}: {}", self.message))
            .type_name(self.kind.as_str().to_owned())
            .non_retryable(true)
            .build()
            .into()
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_serialise_as_themselves() {
        for kind in FailureKind::ALL {
            assert_eq!(FailureKind::from_name(kind.as_str()), Some(*kind));
            let json = serde_json::to_string(kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(FailureKind::from_name("NoSuchKind"), None);
    }

    #[test]
    fn retry_policies_stop_on_permanent_kinds_only() {
        let names: Vec<_> = FailureKind::non_retryable().collect();
        assert!(names.contains(&"RecordingGone"));
        assert!(names.contains(&"SizeMismatch"));
        assert!(!names.contains(&"LlmOutputInvalid"));
        assert!(!names.contains(&"TranscriptionUnavailable"));
    }
}
