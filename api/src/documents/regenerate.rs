//! `POST /api/recordings/{id}/documents`: write the recording's document again from its
//! stored transcript, with another template or extra instructions, as its own durable
//! workflow. One run at a time per recording; `Idempotency-Key` makes a retried request
//! find its first run. The new version arrives as `document.updated`; a failure as
//! `document.generation_failed`, with the previous version still current.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use mediadocs_store::{
    events::Event,
    generations::{self, Generation, NewGeneration, StartError},
    recordings::RecordingStatus,
};
use mediadocs_workflows::{PipelineStage, names};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    AppState,
    auth::{Principal, Role},
    error::{ApiError, FieldError},
    extract::ApiPath,
    recordings,
};

/// The most bytes of extra instructions one regeneration may carry.
pub const MAX_INSTRUCTIONS_BYTES: usize = 100 * 1024;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Regenerate {
    /// One of the org's templates or a built-in; default: the recording's template.
    pub template_id: Option<Uuid>,
    /// For this run only (at most 100 KiB); fenced as untrusted in the prompt.
    #[serde(default)]
    pub instructions: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GenerationRun {
    pub id: Uuid,
    pub recording_id: Uuid,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    pub template_id: Option<Uuid>,
    /// The version it wrote, once it succeeded.
    pub version: Option<i32>,
    pub error: Option<String>,
    /// The Temporal workflow, for operators.
    pub workflow_id: String,
}

impl From<Generation> for GenerationRun {
    fn from(g: Generation) -> Self {
        Self {
            workflow_id: names::regeneration_workflow_id(g.id),
            id: g.id,
            recording_id: g.recording_id,
            status: g.status,
            template_id: g.template_id,
            version: g.version,
            error: g.error,
        }
    }
}

/// The `Idempotency-Key` header: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(raw) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match raw.to_str() {
        Ok(key) if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(key.to_owned()))
        }
        _ => Err(ApiError::BadRequest(
            "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
        )),
    }
}

/// The body is optional: none means "again, as before".
fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Regenerate, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Regenerate::default());
    }
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Err(ApiError::UnsupportedMediaType(
            "expected a body with Content-Type: application/json".into(),
        ));
    }
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::Unprocessable(e.to_string()),
        _ => ApiError::BadRequest(e.to_string()),
    })
}

/// Regenerates the recording's document.
#[utoipa::path(post, path = "/api/recordings/{id}/documents", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "A retried request with the same key finds the first run")),
    request_body(content = Regenerate, example = json!({"template_id": "00000000-0000-7000-8000-000000000006",
        "instructions": "Focus on the database failover."})),
    responses(
        (status = 202, body = GenerationRun, example = json!({"id": "0193…", "recording_id": "0193…",
            "status": "running", "template_id": "00000000-0000-7000-8000-000000000006", "version": null,
            "error": null, "workflow_id": "document-regeneration-0193…"})),
        (status = 200, description = "The same Idempotency-Key again: the first run, as it is now", body = GenerationRun),
        (status = 403, body = crate::error::Problem),
        (status = 404, description = "No such recording, or a template the org cannot use", body = crate::error::Problem),
        (status = 409, description = "A generation is running, or there is no transcript yet", body = crate::error::Problem),
        (status = 413, description = "Instructions over 100 KiB", body = crate::error::Problem),
        (status = 429, description = "The org's daily LLM token budget is spent", body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
#[tracing::instrument(skip_all, fields(recording_id = %id))]
pub async fn regenerate(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<GenerationRun>), ApiError> {
    principal.require(Role::Member)?;
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge("the request body is too large".into())
        }
        _ => ApiError::BadRequest(e.body_text()),
    })?;
    let key = idempotency_key(&headers)?;
    let req = parse(&headers, &body)?;
    if req.instructions.len() > MAX_INSTRUCTIONS_BYTES {
        return Err(ApiError::PayloadTooLarge(format!(
            "instructions are {} bytes; at most {MAX_INSTRUCTIONS_BYTES} are allowed",
            req.instructions.len()
        )));
    }
    if req
        .instructions
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::Validation(vec![FieldError::new(
            "instructions",
            "must not contain control characters",
        )]));
    }
    // A request that raced another with the same key finds that one's run on the second go.
    let (run, created) = match start(&state, &principal, id, &req, key.as_deref()).await? {
        Some(started) => started,
        None => start(&state, &principal, id, &req, key.as_deref())
            .await?
            .ok_or_else(|| ApiError::Conflict("a concurrent request with the same key".into()))?,
    };
    if run.status == "running"
        && let Err(e) =
            crate::orchestration::start_regeneration(&state, principal.org_id, id, run.id).await
    {
        // A run that never started must not hold the recording's one slot: it is failed, and
        // the next request (with a new key) starts afresh.
        let mut tx = principal.begin(&state).await?;
        generations::failed(&mut tx, run.id, "the workflow could not be started").await?;
        tx.commit().await?;
        return Err(e);
    }
    let status = if created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(run.into())))
}

/// The run, and whether this request created it; `None` when a concurrent request with the
/// same key stored its run first.
async fn start(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    req: &Regenerate,
    key: Option<&str>,
) -> Result<Option<(Generation, bool)>, ApiError> {
    let mut tx = principal.begin(state).await?;
    let row = recordings::lock(&mut tx, id).await?;
    recordings::require_creator_or_admin(principal, &row)?;
    if let Some(template) = req.template_id {
        crate::templates::require_usable(&mut tx, template).await?;
    }
    let in_pipeline = matches!(
        row.status,
        RecordingStatus::Uploaded
            | RecordingStatus::Verifying
            | RecordingStatus::Transcribing
            | RecordingStatus::Generating
            | RecordingStatus::Embedding
    );
    let has_transcript: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM transcripts WHERE recording_id = $1)")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    if in_pipeline || !has_transcript {
        let status = row.status.as_str();
        return Err(ApiError::NotReady {
            detail: if in_pipeline {
                format!("the pipeline is still running: the recording is {status}")
            } else {
                format!("there is no transcript to write from: the recording is {status}")
            },
            recording_status: status.to_owned(),
        });
    }
    let new = NewGeneration {
        recording: id,
        template: req.template_id,
        instructions: &req.instructions,
        idempotency_key: key,
        requested_by: principal.user_id(),
    };
    let started = generations::start(&mut tx, principal.org_id, &new).await;
    let (run, created) = match started {
        Ok(started) => started,
        Err(StartError::Running) => {
            return Err(ApiError::Conflict(
                "a generation of this recording's document is running; wait for it to finish"
                    .into(),
            ));
        }
        Err(StartError::Retry) => {
            return Err(ApiError::Conflict(
                "a concurrent request with the same key".into(),
            ));
        }
        Err(StartError::Database(e)) => return Err(e.into()),
    };
    if created {
        let budget = state.chat.settings().daily_tokens_per_org;
        crate::chat::limits::check_budget(&mut tx, principal.org_id, budget).await?;
        Event::Progress {
            recording_id: id,
            stage: PipelineStage::Generate,
            percent: PipelineStage::Generate.percent(),
            steps: None,
        }
        .emit(&mut tx, principal.org_id)
        .await?;
    }
    tx.commit().await?;
    Ok(Some((run, created)))
}
