//! `POST /api/recordings/{id}/retry`: runs the pipeline of a failed recording again.
//!
//! A new run of `recording-{id}`: Temporal allows reusing the ID of a *failed* run only, so
//! a completed or running pipeline can never be started twice. Work the failed run already
//! finished is not redone where its activities are idempotent (a stored transcript is
//! rewritten whole, a document version is written once); transcription is submitted anew,
//! as a new attempt, because the failure may have been the provider's.

use axum::{Json, extract::State};
use mediadocs_store::recordings::RecordingStatus;

use super::{Recording, lock_for_change, move_to};
use crate::{AppState, auth::Principal, error::ApiError, extract::ApiPath};
use uuid::Uuid;

#[utoipa::path(post, path = "/api/recordings/{id}/retry", tag = "recordings", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Recording), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
#[tracing::instrument(skip_all, fields(recording_id = %id))]
pub async fn retry(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Recording>, ApiError> {
    let (tx, row) = lock_for_change(&state, &principal, id).await?;
    if row.status != RecordingStatus::Failed {
        return Err(ApiError::Conflict(format!(
            "only a failed recording can be retried; this one is {}",
            row.status
        )));
    }
    crate::orchestration::restart_pipeline(&state, row.org_id, id).await?;
    Ok(Json(
        move_to(tx, &row, RecordingStatus::Uploaded).await?.into(),
    ))
}
