//! `GET /api/documents/{id}/versions` and `GET /api/documents/{id}/versions/{n}`: the
//! document's history, which no write rewrites.

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::TemplateRef;
use crate::{
    AppState,
    auth::Principal,
    error::{ApiError, FieldError},
    extract::{ApiPath, ApiQuery},
};

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct VersionInfo {
    pub version: i32,
    /// `generated`, `edit`, `restore` or `regenerated`.
    pub source: String,
    /// Who made it; `null` for the pipeline (or a removed user).
    pub author_id: Option<Uuid>,
    pub title: String,
    /// Bytes of Markdown.
    pub size_bytes: i32,
    /// For a restore: the version it copied.
    pub restored_from: Option<i32>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Version {
    #[serde(flatten)]
    pub info: VersionInfo,
    pub markdown: String,
    pub model: Option<String>,
    pub template: Option<TemplateRef>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Versions {
    pub items: Vec<VersionInfo>,
    /// Absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VersionsQuery {
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1 to 100, default 50.
    pub limit: Option<i64>,
}

/// The columns of a [`VersionInfo`], to select with more or follow with `FROM`.
const INFO: &str = "SELECT version, source, author_id, title, octet_length(markdown) AS size_bytes,
        restored_from, created_at";

/// The document's versions, newest first.
#[utoipa::path(get, path = "/api/documents/{id}/versions", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path), VersionsQuery),
    responses((status = 200, body = Versions, example = json!({"items": [
            {"version": 2, "source": "edit", "author_id": "0193…", "title": "Planning call", "size_bytes": 2311,
             "restored_from": null, "created_at": "2026-12-03T12:30:00Z"},
            {"version": 1, "source": "generated", "author_id": null, "title": "Planning call", "size_bytes": 2290,
             "restored_from": null, "created_at": "2026-12-03T12:01:00Z"}], "next_cursor": null})),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<VersionsQuery>,
) -> Result<Json<Versions>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    let mut errors = Vec::new();
    if !(1..=100).contains(&limit) {
        errors.push(FieldError::new("limit", "must be between 1 and 100"));
    }
    let before = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => i32::MAX,
        Some(c) => c
            .strip_prefix('v')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| {
                errors.push(FieldError::new("cursor", "is not a cursor this API issued"));
                0
            }),
    };
    crate::auth::validate::finish(errors)?;
    let mut tx = principal.begin(&state).await?;
    exists(&mut tx, id).await?;
    let mut items: Vec<VersionInfo> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{INFO} FROM document_versions
         WHERE document_id = $1 AND version < $2 ORDER BY version DESC LIMIT $3"
    )))
    .bind(id)
    .bind(before)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next_cursor = more
        .then(|| items.last().map(|v| format!("v{}", v.version)))
        .flatten();
    Ok(Json(Versions { items, next_cursor }))
}

/// One version, with its Markdown.
#[utoipa::path(get, path = "/api/documents/{id}/versions/{n}", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("n" = i32, Path)),
    responses((status = 200, body = Version), (status = 404, description = "No such document or version",
        body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((id, n)): ApiPath<(Uuid, i32)>,
) -> Result<Json<Version>, ApiError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        info: VersionInfo,
        markdown: String,
        model: Option<String>,
        template_id: Option<Uuid>,
        template_name: Option<String>,
    }
    let mut tx = principal.begin(&state).await?;
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{INFO}, markdown, model, template_id, template_name FROM document_versions
         WHERE document_id = $1 AND version = $2"
    )))
    .bind(id)
    .bind(n)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(Json(Version {
        info: row.info,
        markdown: row.markdown,
        model: row.model,
        template: row.template_name.map(|name| TemplateRef {
            id: row.template_id,
            name,
        }),
    }))
}

/// 404 unless the document is the caller's org's.
async fn exists(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    id: Uuid,
) -> Result<(), ApiError> {
    sqlx::query_scalar::<_, Uuid>("SELECT id FROM documents WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(())
}
