//! Writes by people: `PUT /api/documents/{id}` (an edit) and
//! `POST /api/documents/{id}/versions/{n}/restore`. Both add a version and need `If-Match`
//! naming the current one; history is never rewritten.

use axum::{extract::State, http::HeaderMap, response::Response};
use mediadocs_store::documents::{
    self, DocumentWriteError, NewVersion, TemplateUsed, VersionSource,
};
use serde::Deserialize;
use sqlx::{Postgres, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{etag, load, read::with_etag};
use crate::{
    AppState,
    auth::{Principal, Role, validate},
    error::{ApiError, FieldError},
    extract::{ApiPath, AppJson},
    recordings,
};

/// The most Markdown one version may hold.
pub const MAX_MARKDOWN_BYTES: usize = 1024 * 1024;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentEdit {
    /// The whole new body, at most 1 MiB.
    pub markdown: String,
    /// Default: the body's first `# ` heading, else the current title.
    pub title: Option<String>,
}

/// Locks the document for a write by `principal` and checks `If-Match`: 404 for another
/// org's, 403 unless the recording's creator or an admin, 412 when stale. Returns the
/// version the write is based on.
async fn lock_for_write(
    tx: &mut Transaction<'static, Postgres>,
    principal: &Principal,
    headers: &HeaderMap,
    id: Uuid,
) -> Result<i32, ApiError> {
    principal.require(Role::Member)?;
    let (recording, current): (Uuid, Option<i32>) =
        sqlx::query_as("SELECT recording_id, current_version FROM documents WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(ApiError::NotFound)?;
    let row = recordings::lock(tx, recording).await?;
    recordings::require_creator_or_admin(principal, &row)?;
    let named = etag::if_match(headers)?;
    etag::expected(&named, current)
}

fn stale(e: DocumentWriteError) -> ApiError {
    match e {
        DocumentWriteError::Stale { current } => ApiError::PreconditionFailed {
            current_etag: etag::of(current),
        },
        DocumentWriteError::NotFound => ApiError::NotFound,
        DocumentWriteError::Database(e) => e.into(),
    }
}

/// Replaces the document's body with a new version (source `edit`). Emits
/// `document.updated`.
#[utoipa::path(put, path = "/api/documents/{id}", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = String, Header, description = "The ETag of the version this edit is based on")),
    request_body(content = DocumentEdit, example = json!({"markdown": "# Planning call\n\n## Summary\nWe agreed to ship on Friday [03:07].\n…"})),
    responses(
        (status = 200, body = super::Document, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "Malformed If-Match", body = crate::error::Problem),
        (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem),
        (status = 412, description = "Stale If-Match; `current_etag` names the current version", body = crate::error::Problem),
        (status = 413, description = "Markdown over 1 MiB", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem),
        (status = 428, description = "No If-Match", body = crate::error::Problem)))]
#[tracing::instrument(skip_all, fields(document_id = %id))]
pub async fn put(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    AppJson(edit): AppJson<DocumentEdit>,
) -> Result<Response, ApiError> {
    if edit.markdown.len() > MAX_MARKDOWN_BYTES {
        return Err(ApiError::PayloadTooLarge(format!(
            "the document is {} bytes; at most {MAX_MARKDOWN_BYTES} are allowed",
            edit.markdown.len()
        )));
    }
    let mut errors = Vec::new();
    if edit.markdown.trim().is_empty() {
        errors.push(FieldError::new("markdown", "must not be empty"));
    }
    let title = edit
        .title
        .as_deref()
        .map(|t| validate::name("title", t, 200, &mut errors));
    if title.as_deref().is_some_and(str::is_empty) {
        errors.push(FieldError::new("title", "must not be empty"));
    }
    validate::finish(errors)?;

    let mut tx = principal.begin(&state).await?;
    let based_on = lock_for_write(&mut tx, &principal, &headers, id).await?;
    let current = load(&mut tx, id).await?;
    let title = title
        .or_else(|| mediadocs_exports::markdown_title(&edit.markdown))
        .map(|t| t.chars().take(200).collect::<String>())
        .or(current.title.clone())
        .unwrap_or_else(|| "Untitled".to_owned());
    let template = current.template.as_ref().map(|t| TemplateUsed {
        id: t.id,
        name: &t.name,
    });
    let version = NewVersion {
        title: &title,
        markdown: &edit.markdown,
        source: VersionSource::Edit,
        author: principal.user_id(),
        model: None,
        prompt_tokens: 0,
        completion_tokens: 0,
        template,
        generation: None,
        restored_from: None,
    };
    documents::append(&mut tx, principal.org_id, id, Some(based_on), &version)
        .await
        .map_err(stale)?;
    let document = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(with_etag(document))
}

/// Makes version `n` current again by copying it into a new version (source `restore`).
/// Emits `document.updated`.
#[utoipa::path(post, path = "/api/documents/{id}/versions/{n}/restore", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("n" = i32, Path, description = "The version to restore"),
        ("If-Match" = String, Header, description = "The ETag of the current version")),
    responses(
        (status = 200, body = super::Document, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "Malformed If-Match", body = crate::error::Problem),
        (status = 403, body = crate::error::Problem),
        (status = 404, description = "No such document or version", body = crate::error::Problem),
        (status = 412, body = crate::error::Problem),
        (status = 428, body = crate::error::Problem)))]
#[tracing::instrument(skip_all, fields(document_id = %id, version = n))]
pub async fn restore(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((id, n)): ApiPath<(Uuid, i32)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut tx = principal.begin(&state).await?;
    let based_on = lock_for_write(&mut tx, &principal, &headers, id).await?;
    #[derive(sqlx::FromRow)]
    struct Old {
        title: String,
        markdown: String,
        model: Option<String>,
        template_id: Option<Uuid>,
        template_name: Option<String>,
    }
    let old: Old = sqlx::query_as(
        "SELECT title, markdown, model, template_id, template_name FROM document_versions
         WHERE document_id = $1 AND version = $2",
    )
    .bind(id)
    .bind(n)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    let template = old.template_name.as_deref().map(|name| TemplateUsed {
        id: old.template_id,
        name,
    });
    let version = NewVersion {
        title: &old.title,
        markdown: &old.markdown,
        source: VersionSource::Restore,
        author: principal.user_id(),
        model: old.model.as_deref(),
        prompt_tokens: 0,
        completion_tokens: 0,
        template,
        generation: None,
        restored_from: Some(n),
    };
    documents::append(&mut tx, principal.org_id, id, Some(based_on), &version)
        .await
        .map_err(stale)?;
    let document = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(with_etag(document))
}
