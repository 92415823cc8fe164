//! Recordings and their presigned, resumable multipart uploads straight to S3.

pub mod create;
pub mod manage;
pub mod media;
pub mod presign;
pub mod retry;
pub mod upload;

use chrono::{DateTime, Utc};
use mediadocs_store::recordings::{self, RecordingStatus, StatusChange};
use serde::Serialize;
use sqlx::{Postgres, Transaction};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    auth::{Principal, Role},
    error::ApiError,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create::create, manage::list))
        .routes(routes!(manage::get, manage::rename, manage::delete))
        .routes(routes!(upload::presign_parts))
        .routes(routes!(upload::uploaded_parts))
        .routes(routes!(upload::complete))
        .routes(routes!(upload::abort))
        .routes(routes!(retry::retry))
}

/// A recording as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    pub id: Uuid,
    pub org_id: Uuid,
    pub title: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub status: RecordingStatus,
    pub status_reason: Option<String>,
    pub failed_stage: Option<String>,
    pub s3_key: String,
    pub upload_id: Option<String>,
    pub part_size: i64,
    pub part_count: i32,
    pub sha256: Option<String>,
    pub crc32c: Option<String>,
    pub part_checksum: Option<String>,
    pub media_info: Option<serde_json::Value>,
    pub workflow_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub upload_expires_at: DateTime<Utc>,
    pub uploaded_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, org_id, title, filename, content_type, size_bytes, status, status_reason, failed_stage, \
    s3_key, upload_id, part_size, part_count, sha256, crc32c, part_checksum, media_info, workflow_id, \
    created_at, updated_at, upload_expires_at, uploaded_at";

/// Loads and locks a recording of the transaction's org; another org's is simply not found.
pub async fn lock(tx: &mut Transaction<'static, Postgres>, id: Uuid) -> Result<Row, ApiError> {
    sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM recordings WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(ApiError::NotFound)
}

/// The recording, locked in a transaction of the caller's org, for a change only members
/// may make.
pub async fn lock_for_change(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<(Transaction<'static, Postgres>, Row), ApiError> {
    principal.require(Role::Member)?;
    let mut tx = principal.begin(state).await?;
    let row = lock(&mut tx, id).await?;
    Ok((tx, row))
}

/// Moves the locked recording to `to` (see `mediadocs_store::recordings`), commits, and
/// answers with the recording as it now is.
pub async fn move_to(
    mut tx: Transaction<'static, Postgres>,
    row: &Row,
    to: RecordingStatus,
) -> Result<Row, ApiError> {
    recordings::set_status(&mut tx, row.org_id, row.id, StatusChange::to(to)).await?;
    let row = lock(&mut tx, row.id).await?;
    tx.commit().await?;
    Ok(row)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Links {
    /// Present once the transcript exists.
    pub transcript: Option<String>,
    /// Present once the document exists.
    pub document: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Recording {
    pub id: Uuid,
    pub title: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// uploading, uploaded, verifying, transcribing, generating, embedding, completed;
    /// or failed, aborted, expired, rejected.
    pub status: String,
    pub status_reason: Option<String>,
    pub failed_stage: Option<String>,
    pub part_size: i64,
    pub part_count: i32,
    pub sha256: Option<String>,
    pub crc32c: Option<String>,
    /// `SHA256` or `CRC32C` when every part must carry that checksum.
    pub part_checksum: Option<String>,
    pub media_info: Option<serde_json::Value>,
    pub workflow_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub upload_expires_at: DateTime<Utc>,
    pub uploaded_at: Option<DateTime<Utc>>,
    pub links: Links,
}

impl From<Row> for Recording {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            title: r.title,
            filename: r.filename,
            content_type: r.content_type,
            size_bytes: r.size_bytes,
            status: r.status.as_str().to_owned(),
            status_reason: r.status_reason,
            failed_stage: r.failed_stage,
            part_size: r.part_size,
            part_count: r.part_count,
            sha256: r.sha256,
            crc32c: r.crc32c,
            part_checksum: r.part_checksum,
            media_info: r.media_info,
            workflow_id: r.workflow_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
            upload_expires_at: r.upload_expires_at,
            uploaded_at: r.uploaded_at,
            links: Links {
                transcript: None,
                document: None,
            },
        }
    }
}
