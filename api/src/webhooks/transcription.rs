//! `POST /api/webhooks/transcription/{provider}`: a provider reports that a job ended.
//!
//! The order matters. Authenticate over the raw bytes before parsing anything; record the
//! delivery (idempotently) before telling the workflow; answer 2xx to what we will never
//! act on (an unknown job), so the provider stops retrying; and answer 5xx, never 4xx, when
//! the failure is ours, so it retries. The workflow gets IDs only, and the transcript is
//! fetched by an activity, so this stays fast.

use axum::{
    Json,
    body::Bytes,
    extract::{Query, State, rejection::BytesRejection},
    http::HeaderMap,
};
use mediadocs_providers::{
    transcription::{self, Callback, Provider},
    webhook::{job_token, standard},
};
use mediadocs_workflows::{MediaPipelineWorkflow, names, transcription::TranscriptionFinished};
use serde::{Deserialize, Serialize};
use temporalio_client::{WorkflowSignalOptions, errors::WorkflowInteractionError};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{AppState, error::ApiError, extract::ApiPath};

#[derive(Debug, Deserialize, IntoParams)]
pub struct CallbackQuery {
    /// The recording the job transcribes.
    recording: Option<String>,
    /// Our job ID.
    job: Option<String>,
    /// HMAC over the recording and job IDs, minted when the job was submitted.
    token: Option<String>,
}

/// What became of the delivery. Any 2xx tells the provider to stop retrying.
#[derive(Debug, Serialize, ToSchema)]
pub struct Receipt {
    /// `accepted`, `duplicate` or `ignored` (the job is unknown or already replaced).
    pub result: &'static str,
}

struct Job {
    org_id: Uuid,
    recording_id: Uuid,
    provider: String,
    provider_job_id: Option<String>,
}

#[utoipa::path(post, path = "/api/webhooks/transcription/{provider}", tag = "webhooks",
    params(("provider" = String, Path, description = "assemblyai, deepgram or selfhosted"), CallbackQuery),
    request_body(content = String, description = "The provider's own callback body", content_type = "application/json"),
    responses((status = 200, body = Receipt), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 413, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
#[tracing::instrument(skip_all, fields(provider = %provider))]
pub async fn receive(
    State(state): State<AppState>,
    ApiPath(provider): ApiPath<String>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Receipt>, ApiError> {
    let provider: Provider = provider
        .parse()
        .ok()
        .filter(|p: &Provider| p.is_async())
        .ok_or(ApiError::NotFound)?;
    let body = body.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(_) => ApiError::PayloadTooLarge(format!(
            "callbacks are limited to {} bytes",
            super::BODY_LIMIT
        )),
        other => ApiError::BadRequest(other.body_text()),
    })?;
    let (recording_id, job_id) = authenticate(&state, provider, &query, &headers, &body)?;
    let callback = transcription::parse_callback(provider, &body)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;

    let Some(job) = find_job(&state, job_id).await? else {
        tracing::warn!(%job_id, "callback for an unknown job; ignored");
        return Ok(Json(Receipt { result: "ignored" }));
    };
    let mismatch = job.recording_id != recording_id
        || job.provider != provider.as_str()
        || job
            .provider_job_id
            .as_deref()
            .is_some_and(|id| id != callback.provider_job_id);
    if mismatch {
        tracing::warn!(%job_id, provider_job_id = %callback.provider_job_id, "callback does not match its job; ignored");
        return Ok(Json(Receipt { result: "ignored" }));
    }
    let key = delivery_key(provider, &headers, &callback);
    let payload = (provider == Provider::Deepgram)
        .then(|| serde_json::from_slice::<serde_json::Value>(&body))
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if !record(&state, &job, job_id, provider, &key, &callback, payload).await? {
        return Ok(Json(Receipt {
            result: "duplicate",
        }));
    }
    signal(&state, &job, job_id, provider, &callback).await?;
    mark_signalled(&state, job.org_id, provider, &key).await?;
    Ok(Json(Receipt { result: "accepted" }))
}

/// Checks the URL token, then what the provider signs or echoes. Every failure is the same
/// 401, so a caller learns nothing about which part was wrong.
fn authenticate(
    state: &AppState,
    provider: Provider,
    query: &CallbackQuery,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Uuid, Uuid), ApiError> {
    let settings = &state.settings.webhooks;
    let (Some(recording), Some(job), Some(token)) = (&query.recording, &query.job, &query.token)
    else {
        return Err(ApiError::Unauthorized);
    };
    if !settings.tokens.verify_token(recording, job, token) {
        return Err(ApiError::Unauthorized);
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let ok = match provider {
        Provider::AssemblyAi => header(job_token::AUTH_HEADER)
            .is_some_and(|value| settings.tokens.verify_header(job, value)),
        Provider::SelfHosted => {
            let now = chrono::Utc::now().timestamp();
            let signed = standard::Headers {
                id: header(standard::ID_HEADER),
                timestamp: header(standard::TIMESTAMP_HEADER),
                signature: header(standard::SIGNATURE_HEADER),
            };
            standard::verify(&settings.selfhosted_secrets, signed, body, now)
                .inspect_err(|e| tracing::info!(error = %e, "callback signature refused"))
                .is_ok()
        }
        // Deepgram signs nothing; the URL token is all it can carry.
        Provider::Deepgram => true,
        Provider::Whisper => false,
    };
    if !ok {
        return Err(ApiError::Unauthorized);
    }
    // The token covers these strings, so they are ours; a non-UUID cannot have been minted.
    let parse = |s: &str| Uuid::parse_str(s).map_err(|_| ApiError::Unauthorized);
    Ok((parse(recording)?, parse(job)?))
}

/// What makes a delivery the same delivery: the sender's message ID when it has one,
/// otherwise the job and the status it reports.
fn delivery_key(provider: Provider, headers: &HeaderMap, callback: &Callback) -> String {
    let id = headers
        .get(standard::ID_HEADER)
        .and_then(|v| v.to_str().ok());
    match (provider, id) {
        (Provider::SelfHosted, Some(id)) => id.to_owned(),
        _ => format!("{}:{}", callback.provider_job_id, callback.status.as_str()),
    }
}

async fn find_job(state: &AppState, job_id: Uuid) -> Result<Option<Job>, ApiError> {
    let row: Option<(Uuid, Uuid, String, Option<String>)> = sqlx::query_as(
        "SELECT org_id, recording_id, provider, provider_job_id FROM webhook_job($1)",
    )
    .bind(job_id)
    .fetch_optional(&state.pool)
    .await?;
    Ok(
        row.map(|(org_id, recording_id, provider, provider_job_id)| Job {
            org_id,
            recording_id,
            provider,
            provider_job_id,
        }),
    )
}

/// Stores the delivery; returns false when it was seen before *and* already signalled. A
/// delivery seen before but not signalled (we answered 5xx last time) is signalled again.
async fn record(
    state: &AppState,
    job: &Job,
    job_id: Uuid,
    provider: Provider,
    key: &str,
    callback: &Callback,
    payload: Option<serde_json::Value>,
) -> Result<bool, ApiError> {
    let mut tx = mediadocs_config::tenancy::begin(&state.pool, Some(job.org_id), None).await?;
    sqlx::query(
        "INSERT INTO transcription_deliveries
             (provider, delivery_key, job_id, org_id, provider_job_id, status, payload)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (provider, delivery_key) DO NOTHING",
    )
    .bind(provider.as_str())
    .bind(key)
    .bind(job_id)
    .bind(job.org_id)
    .bind(&callback.provider_job_id)
    .bind(callback.status.as_str())
    .bind(payload)
    .execute(&mut *tx)
    .await?;
    // An early callback can beat the submit activity to recording the provider's job ID.
    sqlx::query(
        "UPDATE transcription_jobs SET provider_job_id = $2, updated_at = now()
         WHERE id = $1 AND provider_job_id IS NULL",
    )
    .bind(job_id)
    .bind(&callback.provider_job_id)
    .execute(&mut *tx)
    .await?;
    let signalled: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "SELECT signalled_at FROM transcription_deliveries WHERE provider = $1 AND delivery_key = $2",
    )
    .bind(provider.as_str())
    .bind(key)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(signalled.is_none())
}

async fn signal(
    state: &AppState,
    job: &Job,
    job_id: Uuid,
    provider: Provider,
    callback: &Callback,
) -> Result<(), ApiError> {
    let workflow_id = names::pipeline_workflow_id(&job.recording_id.to_string());
    let finished = TranscriptionFinished {
        provider: provider.as_str().to_owned(),
        job_id: job_id.to_string(),
        provider_job_id: callback.provider_job_id.clone(),
        status: callback.status.as_str().to_owned(),
    };
    let sent = state
        .temporal
        .get_workflow_handle::<MediaPipelineWorkflow>(workflow_id.clone())
        .signal(
            MediaPipelineWorkflow::transcription_finished,
            finished,
            WorkflowSignalOptions::default(),
        )
        .await;
    match sent {
        Ok(()) => Ok(()),
        // The pipeline has ended (the recording was deleted, say): nothing is waiting.
        Err(WorkflowInteractionError::NotFound(_)) => {
            tracing::warn!(%workflow_id, "no running pipeline for this callback; recorded only");
            Ok(())
        }
        Err(e) => Err(ApiError::Unavailable {
            dependency: "temporal",
            detail: e.to_string(),
        }),
    }
}

async fn mark_signalled(
    state: &AppState,
    org: Uuid,
    provider: Provider,
    key: &str,
) -> Result<(), ApiError> {
    let mut tx = mediadocs_config::tenancy::begin(&state.pool, Some(org), None).await?;
    sqlx::query(
        "UPDATE transcription_deliveries SET signalled_at = now()
         WHERE provider = $1 AND delivery_key = $2 AND signalled_at IS NULL",
    )
    .bind(provider.as_str())
    .bind(key)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
