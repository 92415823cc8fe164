//! `GET /api/documents` and `GET /api/documents/{id}`.

use axum::{
    Json,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{Document, DocumentRow, etag, load, select};
use crate::{
    AppState,
    auth::Principal,
    error::{ApiError, FieldError},
    extract::{ApiPath, ApiQuery},
    pagination::{Page, PageQuery, PageRequest, page},
};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub cursor: Option<String>,
    pub limit: Option<i64>,
    /// Only the document of this recording.
    pub recording_id: Option<Uuid>,
    /// Full-text search over the current version's title and body (web-search syntax:
    /// quoted phrases, `-word`, `or`).
    pub q: Option<String>,
    /// For clients that sync: only documents changed after this instant, oldest change
    /// first, so the last item's `updated_at` is the next `updated_since`.
    pub updated_since: Option<DateTime<Utc>>,
}

/// The org's documents (without their bodies), most recently changed first; with
/// `updated_since`, changed since then, in the order they changed.
#[utoipa::path(get, path = "/api/documents", tag = "documents", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<Document>), (status = 422, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<Document>>, ApiError> {
    let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > 500) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "q",
            "must be at most 500 characters",
        )]));
    }
    let request = PageRequest::try_from(PageQuery {
        cursor: query.cursor,
        limit: query.limit,
    })?;
    let (after_t, after_id) = request.after_keys();
    let (order, after) = if query.updated_since.is_some() {
        (
            "d.updated_at, d.id",
            "($2::timestamptz IS NULL OR (d.updated_at, d.id) > ($2, $3))",
        )
    } else {
        (
            "d.updated_at DESC, d.id DESC",
            "($2::timestamptz IS NULL OR (d.updated_at, d.id) < ($2, $3))",
        )
    };
    let mut tx = principal.begin(&state).await?;
    let rows: Vec<DocumentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{} WHERE d.org_id = $1 AND {after}
           AND ($5::uuid IS NULL OR d.recording_id = $5)
           AND ($6::timestamptz IS NULL OR d.updated_at > $6)
           AND ($7::text IS NULL OR to_tsvector('english', v.title || ' ' || v.markdown)
                                    @@ websearch_to_tsquery('english', $7))
         ORDER BY {order} LIMIT $4",
        select(false)
    )))
    .bind(principal.org_id)
    .bind(after_t)
    .bind(after_id)
    .bind(request.fetch())
    .bind(query.recording_id)
    .bind(query.updated_since)
    .bind(q)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let items: Vec<Document> = rows.into_iter().map(Document::from).collect();
    Ok(Json(page(items, &request, |d| (d.updated_at, d.id))))
}

/// A document's current version. The `ETag` names the version; send it as `If-Match` to
/// change the document.
#[utoipa::path(get, path = "/api/documents/{id}", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = Document, headers(("ETag" = String, description = "The current version, as \"v3\"")),
            example = json!({"id": "0193…", "recording_id": "0193…", "version": 2, "status": "published",
                "status_reason": null, "title": "Planning call", "markdown": "# Planning call\n\n## Summary\n…",
                "template": {"id": "00000000-0000-7000-8000-000000000001", "name": "Meeting notes"},
                "model": "gpt-4o-mini", "usage": {"prompt_tokens": 5120, "completion_tokens": 830},
                "updated_by": "0193…", "created_by": "0193…", "source": "edit",
                "created_at": "2026-12-03T12:00:00Z", "updated_at": "2026-12-03T12:30:00Z",
                "published_at": "2026-12-03T12:01:00Z"})),
        (status = 404, body = crate::error::Problem)))]
#[tracing::instrument(skip_all, fields(document_id = %id))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let mut tx = principal.begin(&state).await?;
    let document = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(with_etag(document))
}

/// The document as JSON with its version's `ETag`.
pub(crate) fn with_etag(document: Document) -> Response {
    let tag = document.version.map(etag::header_value);
    let mut response = Json(document).into_response();
    if let Some(tag) = tag {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}
