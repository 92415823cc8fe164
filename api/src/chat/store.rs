//! Conversations and their messages in PostgreSQL. Every function runs in a transaction
//! scoped to the caller's org.

use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::sources::Source;
use crate::{
    auth::{Actor, Principal},
    error::ApiError,
};

/// An earlier message, as the prompt needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryMessage {
    pub from_user: bool,
    pub content: String,
}

/// How many earlier messages are read for the prompt; the token budget trims further.
const HISTORY_MESSAGES: i64 = 40;

/// The caller's own conversation `id`, or 404 (another person's, or another org's).
pub async fn require_conversation(
    tx: &mut Transaction<'static, Postgres>,
    principal: &Principal,
    id: Uuid,
) -> Result<(), ApiError> {
    let found: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM conversations WHERE id = $1 AND owner_id = $2")
            .bind(id)
            .bind(owner(principal))
            .fetch_optional(&mut **tx)
            .await?;
    found.map(|_| ()).ok_or(ApiError::NotFound)
}

/// 404 unless every one of `ids` is a recording of the org.
pub async fn require_recordings(
    tx: &mut Transaction<'static, Postgres>,
    ids: &[Uuid],
) -> Result<(), ApiError> {
    let found: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM recordings WHERE id = ANY($1) AND status <> 'deleted'",
    )
    .bind(ids)
    .fetch_one(&mut **tx)
    .await?;
    if found as usize == ids.len() {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// The conversation's latest messages, oldest first.
pub async fn history(
    tx: &mut Transaction<'static, Postgres>,
    conversation: Uuid,
) -> sqlx::Result<Vec<HistoryMessage>> {
    let mut rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT role, content FROM chat_messages WHERE conversation_id = $1 AND content <> ''
         ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(conversation)
    .bind(HISTORY_MESSAGES)
    .fetch_all(&mut **tx)
    .await?;
    rows.reverse();
    Ok(rows
        .into_iter()
        .map(|(role, content)| HistoryMessage {
            from_user: role == "user",
            content,
        })
        .collect())
}

/// Starts a conversation titled after its first question.
pub async fn create_conversation(
    tx: &mut Transaction<'static, Postgres>,
    principal: &Principal,
    question: &str,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    let (user, key) = match principal.actor {
        Actor::User { id, .. } => (Some(id), None),
        Actor::ApiKey { id } => (None, Some(id)),
    };
    let title: String = match question.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &question[..cut]),
        None => question.to_owned(),
    };
    sqlx::query(
        "INSERT INTO conversations (id, org_id, user_id, api_key_id, title) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(principal.org_id)
    .bind(user)
    .bind(key)
    .bind(title)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

pub async fn insert_question(
    tx: &mut Transaction<'static, Postgres>,
    org: Uuid,
    conversation: Uuid,
    question: &str,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO chat_messages (id, org_id, conversation_id, role, content)
         VALUES ($1, $2, $3, 'user', $4)",
    )
    .bind(id)
    .bind(org)
    .bind(conversation)
    .bind(question)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE conversations SET updated_at = now() WHERE id = $1")
        .bind(conversation)
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

/// An answer as it ended: whole, or cut short for `stop_reason`.
#[derive(Debug, Clone)]
pub struct Answer<'a> {
    pub id: Uuid,
    pub org: Uuid,
    pub conversation: Uuid,
    pub content: &'a str,
    pub sources: &'a [Source],
    pub citations: &'a [i32],
    /// `None` for a complete answer; `llm_error` or `client_disconnected` otherwise.
    pub stop_reason: Option<&'static str>,
    pub model: Option<&'a str>,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub time_to_first_token_ms: Option<u32>,
}

pub async fn insert_answer(
    tx: &mut Transaction<'static, Postgres>,
    answer: &Answer<'_>,
) -> anyhow::Result<()> {
    let status = if answer.stop_reason.is_some() {
        "incomplete"
    } else {
        "complete"
    };
    sqlx::query(
        "INSERT INTO chat_messages (id, org_id, conversation_id, role, content, sources, citations,
             status, stop_reason, model, prompt_tokens, completion_tokens, time_to_first_token_ms)
         VALUES ($1, $2, $3, 'assistant', $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(answer.id)
    .bind(answer.org)
    .bind(answer.conversation)
    .bind(answer.content)
    .bind(serde_json::to_value(answer.sources)?)
    .bind(answer.citations)
    .bind(status)
    .bind(answer.stop_reason)
    .bind(answer.model)
    .bind(answer.prompt_tokens as i32)
    .bind(answer.completion_tokens as i32)
    .bind(answer.time_to_first_token_ms.map(|t| t as i32))
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE conversations SET updated_at = now() WHERE id = $1")
        .bind(answer.conversation)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Whose conversations these are: the user's, or the API key's.
pub fn owner(principal: &Principal) -> Uuid {
    match principal.actor {
        Actor::User { id, .. } | Actor::ApiKey { id } => id,
    }
}
