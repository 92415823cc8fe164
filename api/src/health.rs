//! Liveness and readiness.
//!
//! `/healthz` says the process is up. `/readyz` says it can serve: PostgreSQL, Temporal and
//! S3 all answer. Load balancers route on the second; the first only restarts hung processes.

use std::time::Duration;

use axum::{Json, extract::State};
use serde::Serialize;
use temporalio_client::{grpc::WorkflowService, tonic::IntoRequest};
use temporalio_common::protos::temporal::api::workflowservice::v1::DescribeNamespaceRequest;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{AppState, error::ApiError};

/// Each dependency check gets this long; a hung dependency must not hang the probe.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// Liveness: the process is serving requests.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process is up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: PostgreSQL, Temporal and S3 all answer.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "Every dependency answers", body = Health),
    (status = 503, description = "A dependency is down; `dependency` names it",
        body = crate::error::Problem, content_type = "application/problem+json"),
))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    let (pg, temporal, s3) = tokio::join!(
        check("postgresql", check_postgres(&state)),
        check("temporal", check_temporal(&state)),
        check("s3", check_s3(&state)),
    );
    pg?;
    temporal?;
    s3?;
    Ok(Json(Health { status: "ready" }))
}

async fn check(
    dependency: &'static str,
    probe: impl Future<Output = anyhow::Result<()>>,
) -> Result<(), ApiError> {
    match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ApiError::Unavailable {
            dependency,
            detail: format!("{e:#}"),
        }),
        Err(_) => Err(ApiError::Unavailable {
            dependency,
            detail: "timed out".into(),
        }),
    }
}

async fn check_postgres(state: &AppState) -> anyhow::Result<()> {
    sqlx::query("SELECT 1").execute(&state.pool).await?;
    Ok(())
}

async fn check_temporal(state: &AppState) -> anyhow::Result<()> {
    let mut service = state.temporal.clone();
    let request = DescribeNamespaceRequest {
        namespace: state.settings.temporal.namespace.clone(),
        ..Default::default()
    };
    service.describe_namespace(request.into_request()).await?;
    Ok(())
}

async fn check_s3(state: &AppState) -> anyhow::Result<()> {
    state
        .s3
        .head_bucket()
        .bucket(&state.settings.s3.bucket)
        .send()
        .await?;
    Ok(())
}
