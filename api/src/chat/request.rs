//! The body of `POST /api/chat`, and what it must satisfy.

use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, FieldError};

/// The longest question, in characters.
pub const MAX_QUESTION_CHARS: usize = 2000;
pub const DEFAULT_TOP_K: usize = 8;
pub const MAX_TOP_K: usize = 20;
/// A scope longer than this is better expressed as the whole org.
pub const MAX_RECORDINGS: usize = 100;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatBody {
    /// 1 to 2,000 characters, not only whitespace.
    pub question: String,
    /// Continue this conversation (its earlier messages inform the answer); omitted, a new
    /// one starts.
    pub conversation_id: Option<Uuid>,
    /// Search only these recordings of the org; omitted, all of them.
    pub recording_ids: Option<Vec<Uuid>>,
    /// Passages to retrieve, 1 to 20, default 8. Neighbouring passages are merged into one
    /// source, so there can be fewer sources.
    pub top_k: Option<usize>,
}

/// A validated question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub text: String,
    pub conversation: Option<Uuid>,
    /// Deduplicated, in the order given.
    pub recordings: Option<Vec<Uuid>>,
    pub top_k: usize,
}

impl TryFrom<ChatBody> for Question {
    type Error = ApiError;
    fn try_from(body: ChatBody) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let text = question("question", &body.question, &mut errors);
        let top_k = top_k("top_k", body.top_k, &mut errors);
        let recordings = body.recording_ids.map(|ids| {
            if ids.is_empty() || ids.len() > MAX_RECORDINGS {
                errors.push(FieldError::new(
                    "recording_ids",
                    format!("must hold 1 to {MAX_RECORDINGS} IDs, or be omitted for all"),
                ));
            }
            let mut seen = std::collections::HashSet::new();
            ids.into_iter().filter(|id| seen.insert(*id)).collect()
        });
        crate::auth::validate::finish(errors)?;
        Ok(Self {
            text,
            conversation: body.conversation_id,
            recordings,
            top_k,
        })
    }
}

/// The trimmed question, or an error for `field`.
pub fn question(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> String {
    let text = raw.trim();
    if text.is_empty() {
        errors.push(FieldError::new(field, "must not be empty"));
    } else if text.chars().count() > MAX_QUESTION_CHARS {
        errors.push(FieldError::new(
            field,
            format!("must be at most {MAX_QUESTION_CHARS} characters"),
        ));
    }
    text.to_owned()
}

pub fn top_k(field: &str, raw: Option<usize>, errors: &mut Vec<FieldError>) -> usize {
    let k = raw.unwrap_or(DEFAULT_TOP_K);
    if !(1..=MAX_TOP_K).contains(&k) {
        errors.push(FieldError::new(
            field,
            format!("must be between 1 and {MAX_TOP_K}"),
        ));
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(question: &str) -> ChatBody {
        ChatBody {
            question: question.into(),
            conversation_id: None,
            recording_ids: None,
            top_k: None,
        }
    }

    fn fields(result: Result<Question, ApiError>) -> Vec<String> {
        match result {
            Err(ApiError::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn blank_or_overlong_questions_are_refused() {
        assert_eq!(fields(body("").try_into()), vec!["question"]);
        assert_eq!(fields(body(" \n\t ").try_into()), vec!["question"]);
        let long = "é".repeat(MAX_QUESTION_CHARS + 1);
        assert_eq!(fields(body(&long).try_into()), vec!["question"]);
        let max = "é".repeat(MAX_QUESTION_CHARS);
        assert!(
            Question::try_from(body(&max)).is_ok(),
            "2,000 characters, not bytes"
        );
    }

    #[test]
    fn defaults_trimming_and_scope() {
        let id = Uuid::from_u128(7);
        let q = Question::try_from(ChatBody {
            recording_ids: Some(vec![id, id]),
            ..body("  what was decided?  ")
        })
        .unwrap();
        assert_eq!(q.text, "what was decided?");
        assert_eq!(q.top_k, DEFAULT_TOP_K);
        assert_eq!(q.recordings, Some(vec![id]));
        let bad = ChatBody {
            top_k: Some(21),
            recording_ids: Some(vec![]),
            ..body("x")
        };
        assert_eq!(fields(bad.try_into()), vec!["top_k", "recording_ids"]);
    }
}
