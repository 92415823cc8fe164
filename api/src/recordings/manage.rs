//! Listing, reading, renaming and deleting recordings.

use axum::{Json, extract::State, http::StatusCode};
use mediadocs_store::{
    events::Event,
    recordings::{self, RecordingStatus},
};
use serde::Deserialize;
use temporalio_client::{WorkflowCancelOptions, errors::WorkflowInteractionError};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{COLUMNS, Recording, Row, lock, lock_for_change, summaries};
use crate::{
    AppState,
    auth::{Principal, Role, validate},
    error::{ApiError, FieldError},
    extract::{ApiPath, ApiQuery, AppJson},
    pagination::{Cursor, Page, PageQuery, PageRequest, page_by},
};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub cursor: Option<String>,
    pub limit: Option<i64>,
    /// Only recordings in this status.
    pub status: Option<String>,
    /// Words to find in the title or the document's title.
    pub q: Option<String>,
    /// Only recordings this user created.
    pub created_by: Option<Uuid>,
    /// `-created_at` (newest first, the default), `created_at` or `title`.
    pub sort: Option<String>,
}

/// How a listing is ordered; each order has its own cursor key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Newest,
    Oldest,
    Title,
}

impl Sort {
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        match raw.unwrap_or("-created_at") {
            "-created_at" => Ok(Self::Newest),
            "created_at" => Ok(Self::Oldest),
            "title" => Ok(Self::Title),
            _ => Err(ApiError::Validation(vec![FieldError::new(
                "sort",
                "must be one of -created_at, created_at, title",
            )])),
        }
    }

    /// The ORDER BY and the cursor condition, over (created_at, id) or (lower(title), id).
    fn sql(self) -> (&'static str, &'static str) {
        match self {
            Self::Newest => (
                "r.created_at DESC, r.id DESC",
                "($2::timestamptz IS NULL OR (r.created_at, r.id) < ($2, $3))",
            ),
            Self::Oldest => (
                "r.created_at, r.id",
                "($2::timestamptz IS NULL OR (r.created_at, r.id) > ($2, $3))",
            ),
            Self::Title => (
                "lower(r.title), r.id",
                "($8::text IS NULL OR (lower(r.title), r.id) > ($8, $3))",
            ),
        }
    }
}

/// The org's recordings, newest first unless `sort` says otherwise, with the summaries of
/// their documents and transcripts.
#[utoipa::path(get, path = "/api/recordings", tag = "recordings", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<Recording>), (status = 422, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<Recording>>, ApiError> {
    let status: Option<RecordingStatus> = match query.status.as_deref().map(str::parse) {
        None => None,
        Some(Ok(status)) => Some(status),
        Some(Err(_)) => {
            let names: Vec<_> = RecordingStatus::ALL.iter().map(|s| s.as_str()).collect();
            return Err(ApiError::Validation(vec![FieldError::new(
                "status",
                format!("must be one of {}", names.join(", ")),
            )]));
        }
    };
    let sort = Sort::parse(query.sort.as_deref())?;
    let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > 200) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "q",
            "must be at most 200 characters",
        )]));
    }
    let request = PageRequest::try_from(PageQuery {
        cursor: query.cursor,
        limit: query.limit,
    })?;
    let (after_t, after_id) = request.after_keys();
    let (order, after) = sort.sql();
    let mut tx = principal.begin(&state).await?;
    // `q` matches words of the recording's title or its current document's title, as
    // substrings (case-insensitive), so a half-typed word finds what it starts.
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM recordings r
         WHERE r.org_id = $1 AND {after}
           AND ($4::text IS NULL OR r.status = $4)
           AND ($6::text IS NULL OR r.title ILIKE $6 OR EXISTS (
                SELECT 1 FROM documents d
                JOIN document_versions v ON v.document_id = d.id AND v.version = d.current_version
                WHERE d.recording_id = r.id AND v.title ILIKE $6))
           AND ($7::uuid IS NULL OR r.created_by = $7)
         ORDER BY {order} LIMIT $5"
    )))
    .bind(principal.org_id)
    .bind(after_t)
    .bind(after_id)
    .bind(status)
    .bind(request.fetch())
    .bind(q.map(|q| format!("%{}%", escape_like(q))))
    .bind(query.created_by)
    .bind(request.after_text())
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut made = summaries::load(&mut tx, &ids).await?;
    tx.commit().await?;
    let items: Vec<Recording> = rows
        .into_iter()
        .map(|r| {
            let m = made.remove(&r.id).unwrap_or_default();
            Recording::with(r, m)
        })
        .collect();
    Ok(Json(page_by(items, &request, |r| Cursor {
        t: r.created_at,
        id: r.id,
        s: (sort == Sort::Title).then(|| r.title.to_lowercase()),
    })))
}

/// `q` as a LIKE pattern's literal part.
fn escape_like(q: &str) -> String {
    q.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// One recording: status, media info, timestamps and links.
#[utoipa::path(get, path = "/api/recordings/{id}", tag = "recordings", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Recording), (status = 404, body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Recording>, ApiError> {
    let mut tx = principal.begin(&state).await?;
    let row = super::find(&mut tx, id).await?;
    let recording = Recording::load(&mut tx, row).await?;
    tx.commit().await?;
    Ok(Json(recording))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    pub title: String,
}

/// Renames a recording.
#[utoipa::path(patch, path = "/api/recordings/{id}", tag = "recordings", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = Rename,
    responses((status = 200, body = Recording), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn rename(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    AppJson(req): AppJson<Rename>,
) -> Result<Json<Recording>, ApiError> {
    principal.require(Role::Member)?;
    let mut errors = Vec::new();
    let title = validate::name("title", &req.title, 200, &mut errors);
    if title.is_empty() {
        errors.push(FieldError::new("title", "must not be empty"));
    }
    validate::finish(errors)?;
    let (mut tx, _) = lock_for_change(&state, &principal, id).await?;
    recordings::rename(&mut tx, id, &title).await?;
    let row = lock(&mut tx, id).await?;
    let recording = Recording::load(&mut tx, row).await?;
    tx.commit().await?;
    Ok(Json(recording))
}

/// Deletes a recording for good: cancels its workflows, deletes its S3 objects and its row.
#[utoipa::path(delete, path = "/api/recordings/{id}", tag = "recordings", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let (mut tx, row) = lock_for_change(&state, &principal, id).await?;
    let names = [
        mediadocs_workflows::names::pipeline_workflow_id(id),
        mediadocs_workflows::names::upload_expiry_workflow_id(id),
    ];
    for workflow_id in names {
        let handle = state
            .temporal
            .get_workflow_handle::<temporalio_client::UntypedWorkflow>(workflow_id.as_str());
        // NotFound covers both a workflow that never started and one that already finished.
        match handle
            .cancel(
                WorkflowCancelOptions::builder()
                    .reason("recording deleted".to_owned())
                    .build(),
            )
            .await
        {
            Ok(()) | Err(WorkflowInteractionError::NotFound(_)) => {}
            Err(e) => {
                return Err(ApiError::Unavailable {
                    dependency: "temporal",
                    detail: e.to_string(),
                });
            }
        }
    }
    let bucket = &state.settings.s3.bucket;
    if let Some(upload_id) = &row.upload_id {
        mediadocs_store::objects::abort_multipart(&state.s3, bucket, &row.s3_key, upload_id)
            .await?;
    }
    let prefix = mediadocs_workflows::names::recording_prefix(row.org_id, id);
    mediadocs_store::objects::delete_prefix(&state.s3, bucket, &prefix).await?;
    sqlx::query("DELETE FROM recordings WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Event::Deleted { recording_id: id }
        .emit(&mut tx, row.org_id)
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
