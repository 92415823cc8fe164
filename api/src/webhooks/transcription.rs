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

/// An authenticated callback, and what identifies it as the same delivery when it comes again.
struct Delivery {
    provider: Provider,
    key: String,
    job_id: Uuid,
    recording_id: Uuid,
    callback: Callback,
}

enum Recorded {
    New { org_id: Uuid },
    Duplicate,
    UnknownJob,
    Mismatch,
}

#[utoipa::path(post, path = "/api/webhooks/transcription/{provider}", tag = "webhooks",
    params(("provider" = String, Path, description = "assemblyai, deepgram or selfhosted"), CallbackQuery),
    request_body(content = String, description = "The provider's own callback body", content_type = "application/json"),
    responses((status = 200, body = Receipt), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 413, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
#[tracing::instrument(skip_all, fields(provider = %provider, org_id = tracing::field::Empty))]
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

    let key = delivery_key(provider, &headers, &callback)?;
    let payload = (provider == Provider::Deepgram)
        .then(|| serde_json::from_slice::<serde_json::Value>(&body))
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let delivery = Delivery {
        provider,
        key,
        job_id,
        recording_id,
        callback,
    };
    let org_id = match record(&state, &delivery, payload).await? {
        Recorded::New { org_id } => org_id,
        Recorded::Duplicate => {
            return Ok(Json(Receipt {
                result: "duplicate",
            }));
        }
        Recorded::UnknownJob => {
            tracing::warn!(%job_id, "callback for an unknown job; ignored");
            return Ok(Json(Receipt { result: "ignored" }));
        }
        Recorded::Mismatch => {
            tracing::warn!(%job_id, provider_job_id = %delivery.callback.provider_job_id, "callback does not match its job; ignored");
            return Ok(Json(Receipt { result: "ignored" }));
        }
    };
    tracing::Span::current().record("org_id", tracing::field::display(org_id));
    signal(&state, &delivery).await?;
    mark_signalled(&state, &delivery).await?;
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
    let settings = &state.webhooks;
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

/// A key must fit a btree entry (about 2.7 kB) and, as part of the signal's request ID,
/// Temporal's ID limit (1,000 characters); one that did not would fail every retry with a
/// 5xx, so the provider would retry forever. No real provider's IDs come near this.
const MAX_DELIVERY_KEY: usize = 255;

/// What makes a delivery the same delivery: the sender's message ID when it has one,
/// otherwise the job and the status it reports.
fn delivery_key(
    provider: Provider,
    headers: &HeaderMap,
    callback: &Callback,
) -> Result<String, ApiError> {
    let id = headers
        .get(standard::ID_HEADER)
        .and_then(|v| v.to_str().ok());
    let key = match (provider, id) {
        (Provider::SelfHosted, Some(id)) => id.to_owned(),
        _ => format!("{}:{}", callback.provider_job_id, callback.status.as_str()),
    };
    if key.len() > MAX_DELIVERY_KEY {
        return Err(ApiError::BadRequest(format!(
            "the delivery's ID (webhook-id, or the provider's job ID and status) is longer \
             than {MAX_DELIVERY_KEY} bytes"
        )));
    }
    Ok(key)
}

/// Finds the job, checks the callback against it and stores the delivery, in one round trip
/// (`record_transcription_delivery`). A delivery seen before but never signalled (we answered
/// 5xx last time) comes back as new, so it is signalled this time.
async fn record(
    state: &AppState,
    delivery: &Delivery,
    payload: Option<serde_json::Value>,
) -> Result<Recorded, ApiError> {
    let (outcome, org_id): (String, Option<Uuid>) = sqlx::query_as(
        "SELECT outcome, org_id FROM record_transcription_delivery($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(delivery.job_id)
    .bind(delivery.recording_id)
    .bind(delivery.provider.as_str())
    .bind(&delivery.key)
    .bind(&delivery.callback.provider_job_id)
    .bind(delivery.callback.status.as_str())
    .bind(payload)
    .fetch_one(&state.pool)
    .await?;
    Ok(match (outcome.as_str(), org_id) {
        ("new", Some(org_id)) => Recorded::New { org_id },
        ("duplicate", _) => Recorded::Duplicate,
        ("mismatch", _) => Recorded::Mismatch,
        ("unknown", _) => Recorded::UnknownJob,
        other => {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "record_transcription_delivery answered {other:?}"
            )));
        }
    })
}

/// The delivery's key is the signal's request ID, so a signal repeated after a crash between
/// sending it and marking it sent is dropped by the server rather than delivered twice.
async fn signal(state: &AppState, delivery: &Delivery) -> Result<(), ApiError> {
    let workflow_id = names::pipeline_workflow_id(delivery.recording_id);
    let finished = TranscriptionFinished {
        provider: delivery.provider.as_str().to_owned(),
        job_id: delivery.job_id.to_string(),
        provider_job_id: delivery.callback.provider_job_id.clone(),
        status: delivery.callback.status.as_str().to_owned(),
    };
    let options = WorkflowSignalOptions::builder()
        .request_id(format!(
            "transcription-delivery:{}:{}",
            delivery.provider.as_str(),
            delivery.key
        ))
        .build();
    let sent = state
        .temporal
        .get_workflow_handle::<MediaPipelineWorkflow>(workflow_id.clone())
        .signal(
            MediaPipelineWorkflow::transcription_finished,
            finished,
            options,
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

/// Losing this mark in a crash costs only a repeated signal, which the server drops (same
/// request ID), so its commit does not wait for the disk: only the delivery's record does.
async fn mark_signalled(state: &AppState, delivery: &Delivery) -> Result<(), ApiError> {
    sqlx::query(
        "SELECT set_config('synchronous_commit', 'off', true),
                mark_transcription_delivery_signalled($1, $2)",
    )
    .bind(delivery.provider.as_str())
    .bind(&delivery.key)
    .execute(&state.pool)
    .await?;
    Ok(())
}
