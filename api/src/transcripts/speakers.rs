//! `PATCH /api/recordings/{id}/transcript/speakers`: names for the provider's speaker labels,
//! shown in the transcript, its subtitles, chat sources and documents written from then on.

use std::collections::BTreeMap;

use axum::{Json, extract::State};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{header, labels};
use crate::{
    AppState,
    auth::{Principal, Role, validate},
    error::{ApiError, FieldError},
    extract::{ApiPath, AppJson},
    recordings,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct SpeakerNames {
    /// Every named label and its name.
    pub speakers: BTreeMap<String, String>,
}

/// Names speakers: `{"A": "Alice", "B": null}` names A and clears B's name. Every key must be
/// a label the transcript has (422 otherwise). Documents already written keep their text;
/// regenerate to write the names in.
#[utoipa::path(patch, path = "/api/recordings/{id}/transcript/speakers", tag = "transcripts",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body(content = BTreeMap<String, Option<String>>, example = json!({"A": "Alice", "B": "Bob"})),
    responses(
        (status = 200, body = SpeakerNames, example = json!({"speakers": {"A": "Alice", "B": "Bob"}})),
        (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem),
        (status = 409, description = "No transcript yet", body = crate::error::Problem),
        (status = 422, description = "An unknown label or an invalid name", body = crate::error::Problem)))]
#[tracing::instrument(skip_all, fields(recording_id = %id))]
pub async fn rename(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    AppJson(names): AppJson<BTreeMap<String, Option<String>>>,
) -> Result<Json<SpeakerNames>, ApiError> {
    principal.require(Role::Member)?;
    let mut tx = principal.begin(&state).await?;
    let row = recordings::lock(&mut tx, id).await?;
    recordings::require_creator_or_admin(&principal, &row)?;
    let head = header(&mut tx, id, true).await?;
    let labels = labels(&mut tx, id).await?;
    let mut errors = Vec::new();
    if names.is_empty() {
        errors.push(FieldError::new(
            "speakers",
            "name at least one speaker label",
        ));
    }
    let mut merged = head.speaker_names.0.clone();
    for (label, name) in &names {
        let field = format!("speakers.{label}");
        if !labels.contains(label) {
            errors.push(FieldError::new(
                &field,
                format!(
                    "is not a speaker label of this transcript; labels: {}",
                    labels.join(", ")
                ),
            ));
            continue;
        }
        match name {
            None => {
                merged.remove(label);
            }
            Some(name) => {
                let name = validate::name(&field, name, 100, &mut errors);
                if name.is_empty() {
                    errors.push(FieldError::new(
                        &field,
                        "must not be empty; use null to clear",
                    ));
                }
                merged.insert(label.clone(), name);
            }
        }
    }
    validate::finish(errors)?;
    sqlx::query("UPDATE transcripts SET speaker_names = $2 WHERE recording_id = $1")
        .bind(id)
        .bind(sqlx::types::Json(&merged))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Json(SpeakerNames { speakers: merged }))
}
