//! What can go wrong talking to an LLM, sorted into "try again later" and "never will work".
//!
//! The caller is a Temporal activity: it fails a retryable error normally (Temporal retries
//! it with backoff) and a permanent one as non-retryable, so the workflow stops with a clear
//! message instead of burning retries on a bad key or a refused transcript.

use async_openai::error::{ApiError, OpenAIError, StreamError};
use mediadocs_workflows::FailureKind;

use super::transport::BackoffBeyondDeadline;

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// 401/403: the key is wrong or may not use this model. Permanent.
    #[error("LLM provider refused our credentials (HTTP {status}): {message}")]
    Unauthorized { status: u16, message: String },
    /// The provider's content policy refused the prompt or cut the answer. Permanent.
    #[error("LLM provider refused the content under its content policy: {0}")]
    ContentPolicy(String),
    /// The account is out of credit (`insufficient_quota`). Permanent until someone pays.
    #[error("LLM provider quota exhausted: {0}")]
    QuotaExhausted(String),
    /// Prompt plus `max_tokens` exceed the model's context window. Permanent.
    #[error("prompt too long for the model's context window: {0}")]
    ContextLength(String),
    /// Any other 4xx: the request itself is wrong (unknown model, bad parameter). Permanent.
    #[error("LLM provider rejected the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    /// 429 after our retries, or a `Retry-After` longer than the call had left.
    #[error("LLM provider is rate-limiting us: {0}")]
    RateLimited(String),
    /// 5xx after our retries, or the server could not be reached.
    #[error("LLM provider unavailable: {0}")]
    Unavailable(String),
    #[error("LLM call timed out: {0}")]
    Timeout(String),
    /// The stream stopped before the model said it had finished.
    #[error("LLM stream interrupted: {0}")]
    Interrupted(String),
    /// The answer was not the JSON (or SSE) an OpenAI-compatible server sends.
    #[error("malformed LLM response: {0}")]
    Malformed(String),
    /// A well-formed answer with no text in it; models do this now and then.
    #[error("LLM returned an empty completion (finish_reason {finish_reason})")]
    Empty { finish_reason: String },
    /// The settings cannot produce a working client. Permanent.
    #[error("invalid LLM settings: {0}")]
    Config(String),
}

impl LlmError {
    /// Whether the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        self.failure_kind().retryable()
    }

    /// The failure's stable name when it fails an activity.
    pub fn failure_kind(&self) -> FailureKind {
        match self {
            Self::Unauthorized { .. } => FailureKind::LlmUnauthorized,
            Self::ContentPolicy(_) => FailureKind::LlmContentPolicy,
            Self::QuotaExhausted(_) => FailureKind::LlmQuotaExhausted,
            Self::ContextLength(_) => FailureKind::LlmContextLength,
            Self::Rejected { .. } => FailureKind::LlmRejected,
            Self::Config(_) => FailureKind::LlmConfig,
            Self::RateLimited(_) => FailureKind::LlmRateLimited,
            Self::Timeout(_) => FailureKind::LlmTimeout,
            Self::Unavailable(_) => FailureKind::LlmUnavailable,
            Self::Interrupted(_) | Self::Malformed(_) => FailureKind::LlmMalformed,
            // Another attempt of the model may well write something.
            Self::Empty { .. } => FailureKind::LlmOutputInvalid,
        }
    }

    /// A stable label for metrics and non-retryable failure types.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unauthorized { .. } => "unauthorized",
            Self::ContentPolicy(_) => "content_policy",
            Self::QuotaExhausted(_) => "quota_exhausted",
            Self::ContextLength(_) => "context_length",
            Self::Rejected { .. } => "rejected",
            Self::RateLimited(_) => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Timeout(_) => "timeout",
            Self::Interrupted(_) => "interrupted",
            Self::Malformed(_) => "malformed",
            Self::Empty { .. } => "empty",
            Self::Config(_) => "config",
        }
    }

    pub(crate) fn from_openai(error: OpenAIError) -> Self {
        match error {
            OpenAIError::ApiError(e) => from_api(e.status_code.as_u16(), &e.api_error),
            OpenAIError::Reqwest(e) if e.is_timeout() => Self::Timeout(e.to_string()),
            OpenAIError::Reqwest(e) if e.is_decode() => Self::Malformed(e.to_string()),
            OpenAIError::Reqwest(e) => Self::Unavailable(e.to_string()),
            OpenAIError::JSONDeserialize(e, body) => {
                Self::Malformed(format!("{e}; body starts {:?}", excerpt(&body, 120)))
            }
            OpenAIError::StreamError(e) => match *e {
                StreamError::UnknownEvent(event) => {
                    Self::Malformed(format!("unexpected SSE event {:?}", event.event))
                }
                StreamError::EventStream(e) => Self::Interrupted(e),
            },
            OpenAIError::Boxed(e) => match e.downcast::<BackoffBeyondDeadline>() {
                Ok(backoff) => backoff.into_llm_error(),
                Err(other) => Self::Unavailable(other.to_string()),
            },
            OpenAIError::InvalidArgument(e) => Self::Config(e),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

/// Sorts an OpenAI-style error body. Providers disagree on whether the reason sits in
/// `code` or `type`, so both are checked.
pub(crate) fn from_api(status: u16, error: &ApiError) -> LlmError {
    let is = |v: &str| error.code.as_deref() == Some(v) || error.r#type.as_deref() == Some(v);
    let message = excerpt(&error.to_string(), 300);
    match status {
        401 | 403 => LlmError::Unauthorized { status, message },
        _ if is("insufficient_quota") => LlmError::QuotaExhausted(message),
        _ if is("content_policy_violation") || is("content_filter") => {
            LlmError::ContentPolicy(message)
        }
        _ if is("context_length_exceeded") => LlmError::ContextLength(message),
        429 => LlmError::RateLimited(message),
        408 | 500..=599 => LlmError::Unavailable(format!("HTTP {status}: {message}")),
        _ => LlmError::Rejected { status, message },
    }
}

/// The start of `text`, cut on a character boundary: provider bodies can be huge.
pub(crate) fn excerpt(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: Option<&str>, kind: Option<&str>) -> ApiError {
        ApiError {
            message: "nope".into(),
            r#type: kind.map(Into::into),
            code: code.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn permanent_and_retryable_api_errors_are_told_apart() {
        let cases = [
            (401, api(None, None), "unauthorized", false),
            (403, api(None, None), "unauthorized", false),
            (
                400,
                api(Some("content_policy_violation"), None),
                "content_policy",
                false,
            ),
            (
                400,
                api(Some("content_filter"), None),
                "content_policy",
                false,
            ),
            (
                429,
                api(None, Some("insufficient_quota")),
                "quota_exhausted",
                false,
            ),
            (
                400,
                api(Some("context_length_exceeded"), None),
                "context_length",
                false,
            ),
            (404, api(Some("model_not_found"), None), "rejected", false),
            (
                429,
                api(Some("rate_limit_exceeded"), None),
                "rate_limited",
                true,
            ),
            (503, api(None, None), "unavailable", true),
        ];
        for (status, body, kind, retryable) in cases {
            let error = from_api(status, &body);
            assert_eq!(error.kind(), kind, "{status} {body:?}");
            assert_eq!(error.is_retryable(), retryable, "{status} {body:?}");
        }
    }

    #[test]
    fn excerpt_cuts_on_a_character_boundary() {
        assert_eq!(excerpt("héllo", 2), "hé…");
        assert_eq!(excerpt("hi", 5), "hi");
    }
}
