//! `GET /api/conversations` and `GET /api/conversations/{id}`: the caller's own
//! conversations and their messages, paged by cursor, oldest first.

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::store;
use crate::{
    AppState,
    auth::Principal,
    error::ApiError,
    extract::{ApiPath, ApiQuery},
    pagination::{Page, PageQuery, PageRequest, fetch_page},
};

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Conversation {
    pub id: Uuid,
    /// The first question, shortened.
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The caller's conversations (a user's, or an API key's), oldest first.
#[utoipa::path(get, path = "/api/conversations", tag = "chat", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = Page<Conversation>), (status = 422, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<Conversation>>, ApiError> {
    let request = PageRequest::try_from(query)?;
    let mut tx = principal.begin(&state).await?;
    let page = fetch_page(
        &mut tx,
        "SELECT id, title, created_at, updated_at FROM conversations
         WHERE owner_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3))
         ORDER BY created_at, id LIMIT $4",
        store::owner(&principal),
        &request,
        |row: Conversation| Ok(row),
        |c| (c.created_at, c.id),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(page))
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Message {
    pub id: Uuid,
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
    /// `complete`, or `incomplete` when the answer stopped early (see `stop_reason`).
    pub status: String,
    /// `llm_error` or `client_disconnected`, for incomplete answers.
    pub stop_reason: Option<String>,
    /// For answers: the sources the model was given, numbered as in the `sources` event.
    #[schema(value_type = Vec<super::sources::Source>)]
    pub sources: serde_json::Value,
    /// For answers: the source numbers it cites, checked against `sources`.
    pub citations: Vec<i32>,
    pub model: Option<String>,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
    pub time_to_first_token_ms: Option<i32>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationWithMessages {
    #[serde(flatten)]
    pub conversation: Conversation,
    /// One page of messages, oldest first; `?cursor=` takes the next.
    pub messages: Page<Message>,
}

/// One of the caller's conversations with a page of its messages.
#[utoipa::path(get, path = "/api/conversations/{id}", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = ConversationWithMessages),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<ConversationWithMessages>, ApiError> {
    let request = PageRequest::try_from(query)?;
    let mut tx = principal.begin(&state).await?;
    let conversation: Conversation = sqlx::query_as(
        "SELECT id, title, created_at, updated_at FROM conversations WHERE id = $1 AND owner_id = $2",
    )
    .bind(id)
    .bind(store::owner(&principal))
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    let messages = fetch_page(
        &mut tx,
        "SELECT id, role, content, status, stop_reason, sources, citations, model, prompt_tokens,
                completion_tokens, time_to_first_token_ms, created_at
         FROM chat_messages
         WHERE conversation_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3))
         ORDER BY created_at, id LIMIT $4",
        id,
        &request,
        |row: Message| Ok(row),
        |m| (m.created_at, m.id),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(ConversationWithMessages {
        conversation,
        messages,
    }))
}
