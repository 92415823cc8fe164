//! Documents: the Markdown written from each recording, read, edited with optimistic
//! concurrency (`ETag` / `If-Match` on the version), versioned, exported and regenerated.
//! Every write goes through `mediadocs_store::documents`, which owns the tables.

pub mod edit;
pub mod etag;
pub mod export;
pub mod read;
pub mod regenerate;
pub mod versions;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Postgres, Transaction};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{AppState, error::ApiError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(read::list))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(read::get, edit::put))
                // An edit may carry 1 MiB of Markdown, JSON-escaped; the handler answers 413
                // past 1 MiB of Markdown itself.
                .layer(axum::extract::DefaultBodyLimit::max(
                    3 * edit::MAX_MARKDOWN_BYTES,
                )),
        )
        .routes(routes!(versions::list))
        .routes(routes!(versions::get))
        .routes(routes!(edit::restore))
        .routes(routes!(export::export))
        .routes(routes!(regenerate::regenerate))
}

/// Tokens the LLM used to write a version (map, reduce and the final pass).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenUsage {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TemplateRef {
    /// `null` once the template was deleted; the name stays.
    pub id: Option<Uuid>,
    pub name: String,
}

/// A document and its current version.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Document {
    pub id: Uuid,
    pub recording_id: Uuid,
    /// `null` while no generation has succeeded (`status` is then `failed`).
    pub version: Option<i32>,
    /// `draft`, `published` or `failed`.
    pub status: String,
    /// Why it is `failed`.
    pub status_reason: Option<String>,
    pub title: Option<String>,
    pub markdown: Option<String>,
    pub template: Option<TemplateRef>,
    pub model: Option<String>,
    pub usage: TokenUsage,
    /// Who wrote the current version (`null`: the pipeline).
    pub updated_by: Option<Uuid>,
    /// The recording's creator.
    pub created_by: Option<Uuid>,
    pub source: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct DocumentRow {
    id: Uuid,
    recording_id: Uuid,
    version: Option<i32>,
    status: String,
    status_reason: Option<String>,
    title: Option<String>,
    markdown: Option<String>,
    template_id: Option<Uuid>,
    template_name: Option<String>,
    model: Option<String>,
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
    author_id: Option<Uuid>,
    created_by: Option<Uuid>,
    source: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    published_at: Option<DateTime<Utc>>,
}

/// `markdown` is left out of listings (`body = false`), which carry many documents.
pub(crate) fn select(body: bool) -> String {
    format!(
        "SELECT d.id, d.recording_id, d.current_version AS version, d.status, d.status_reason,
                v.title, {} AS markdown, v.template_id, v.template_name, v.model,
                v.prompt_tokens, v.completion_tokens, v.author_id, r.created_by, v.source,
                d.created_at, d.updated_at, d.published_at
         FROM documents d
         JOIN recordings r ON r.id = d.recording_id
         LEFT JOIN document_versions v ON v.document_id = d.id AND v.version = d.current_version",
        if body { "v.markdown" } else { "NULL::text" }
    )
}

impl From<DocumentRow> for Document {
    fn from(r: DocumentRow) -> Self {
        Self {
            id: r.id,
            recording_id: r.recording_id,
            version: r.version,
            status: r.status,
            status_reason: r.status_reason,
            title: r.title,
            markdown: r.markdown,
            template: r.template_name.map(|name| TemplateRef {
                id: r.template_id,
                name,
            }),
            model: r.model,
            usage: TokenUsage {
                prompt_tokens: r.prompt_tokens.unwrap_or(0),
                completion_tokens: r.completion_tokens.unwrap_or(0),
            },
            updated_by: r.author_id,
            created_by: r.created_by,
            source: r.source,
            created_at: r.created_at,
            updated_at: r.updated_at,
            published_at: r.published_at,
        }
    }
}

/// The document with its current body, in the caller's org (404 otherwise).
pub(crate) async fn load(
    tx: &mut Transaction<'static, Postgres>,
    id: Uuid,
) -> Result<Document, ApiError> {
    let row: DocumentRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{} WHERE d.id = $1",
        select(true)
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    Ok(row.into())
}
