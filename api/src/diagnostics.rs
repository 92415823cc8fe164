//! `POST /api/diagnostics/ping`: a round trip through Temporal, the worker and PostgreSQL.

use std::time::Duration;

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{AppState, error::ApiError, extract::AppJson};

/// A ping that takes longer than this means no worker is polling the task queue.
const PING_TIMEOUT: Duration = Duration::from_secs(20);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ping))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PingRequest {
    #[serde(default = "default_message")]
    pub message: String,
}

fn default_message() -> String {
    "ping".into()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PingResponse {
    pub workflow_id: String,
    pub row_id: i64,
    pub reply: String,
}

/// Starts `PingWorkflow`, waits for the worker to run it, and returns its result.
#[utoipa::path(post, path = "/api/diagnostics/ping", tag = "diagnostics",
    request_body = PingRequest,
    responses(
        (status = 200, description = "The worker ran the workflow", body = PingResponse),
        (status = 503, description = "Temporal or the worker did not answer",
            body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn ping(
    State(state): State<AppState>,
    AppJson(request): AppJson<PingRequest>,
) -> Result<Json<PingResponse>, ApiError> {
    let ping_id = uuid::Uuid::now_v7().to_string();
    let run = crate::orchestration::ping(
        &state.temporal,
        &state.settings.temporal.task_queue,
        &ping_id,
        request.message,
    );
    let output = tokio::time::timeout(PING_TIMEOUT, run)
        .await
        .map_err(|_| ApiError::Unavailable {
            dependency: "worker",
            detail: "no worker completed the ping in time".into(),
        })??;
    Ok(Json(PingResponse {
        workflow_id: mediadocs_workflows::names::ping_workflow_id(&ping_id),
        row_id: output.row_id,
        reply: output.reply,
    }))
}
