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

use super::{COLUMNS, Recording, Row, lock, lock_for_change};
use crate::{
    AppState,
    auth::{Principal, Role, validate},
    error::{ApiError, FieldError},
    extract::{ApiPath, ApiQuery, AppJson},
    pagination::{Page, PageQuery, PageRequest, page},
};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub cursor: Option<String>,
    pub limit: Option<i64>,
    /// Only recordings in this status.
    pub status: Option<String>,
}

/// The org's recordings, oldest first.
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
    let request = PageRequest::try_from(PageQuery {
        cursor: query.cursor,
        limit: query.limit,
    })?;
    let (after_t, after_id) = request.after_keys();
    let mut tx = principal.begin(&state).await?;
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM recordings
         WHERE org_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3))
           AND ($4::text IS NULL OR status = $4)
         ORDER BY created_at, id LIMIT $5"
    )))
    .bind(principal.org_id)
    .bind(after_t)
    .bind(after_id)
    .bind(status)
    .bind(request.fetch())
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let items: Vec<Recording> = rows.into_iter().map(Recording::from).collect();
    Ok(Json(page(items, &request, |r| (r.created_at, r.id))))
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
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM recordings WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(Json(row.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    pub title: String,
}

/// Renames a recording.
#[utoipa::path(patch, path = "/api/recordings/{id}", tag = "recordings", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = Rename,
    responses((status = 200, body = Recording), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
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
    let mut tx = principal.begin(&state).await?;
    lock(&mut tx, id).await?;
    recordings::rename(&mut tx, id, &title).await?;
    let row = lock(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(row.into()))
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
