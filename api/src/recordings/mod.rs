//! Recordings and their presigned, resumable multipart uploads straight to S3.

pub mod create;
pub mod manage;
pub mod media;
pub mod playback;
pub mod presign;
pub mod retry;
pub mod summaries;
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
    auth::{Actor, Principal, Role},
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
        .routes(routes!(playback::media))
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
    pub created_by: Option<Uuid>,
    pub created_by_api_key: Option<Uuid>,
    pub template_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub upload_expires_at: DateTime<Utc>,
    pub uploaded_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, org_id, title, filename, content_type, size_bytes, status, status_reason, failed_stage, \
    s3_key, upload_id, part_size, part_count, sha256, crc32c, part_checksum, media_info, workflow_id, \
    created_by, created_by_api_key, template_id, created_at, updated_at, upload_expires_at, uploaded_at";

impl Row {
    /// Whether the source is in S3 to be played: uploaded, and not thrown away since.
    pub fn media_stored(&self) -> bool {
        self.uploaded_at.is_some()
            && !matches!(
                self.status,
                RecordingStatus::Rejected | RecordingStatus::Aborted | RecordingStatus::Expired
            )
    }
}

/// A recording of the transaction's org, unlocked; another org's is simply not found.
pub async fn find(tx: &mut Transaction<'static, Postgres>, id: Uuid) -> Result<Row, ApiError> {
    sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM recordings WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(ApiError::NotFound)
}

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

/// The recording, locked in a transaction of the caller's org, for a change only its
/// creator or an org admin may make: another org's is 404, another member's 403.
pub async fn lock_for_change(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<(Transaction<'static, Postgres>, Row), ApiError> {
    principal.require(Role::Member)?;
    let mut tx = principal.begin(state).await?;
    let row = lock(&mut tx, id).await?;
    require_creator_or_admin(principal, &row)?;
    Ok((tx, row))
}

/// The rule for changing a recording and what was made from it (its document, its
/// transcript's speaker names): its creator (the user, or the API key that created it) or
/// an admin.
pub fn require_creator_or_admin(principal: &Principal, row: &Row) -> Result<(), ApiError> {
    let creator = match principal.actor {
        Actor::User { id, .. } => row.created_by == Some(id),
        Actor::ApiKey { id } => row.created_by_api_key == Some(id),
    };
    if creator || principal.role >= Role::Admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only the recording's creator or an org admin may change it".into(),
        ))
    }
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
    /// Present once the upload is stored: a presigned URL to play the source.
    pub media: Option<String>,
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
    /// The user who created it; `null` for an API key or a removed user.
    pub created_by: Option<Uuid>,
    /// The template its document is written with; `null`: the org default.
    pub template_id: Option<Uuid>,
    pub links: Links,
    /// Present once the document exists.
    pub document: Option<summaries::DocumentSummary>,
    /// Present once the transcript exists.
    pub transcript: Option<summaries::TranscriptSummary>,
}

impl Recording {
    /// The recording with the summaries of what was made from it (see [`summaries::load`]).
    pub fn with(r: Row, made: summaries::Made) -> Self {
        let stored = r.media_stored();
        let links = Links {
            transcript: made
                .transcript
                .as_ref()
                .map(|_| format!("/api/recordings/{}/transcript", r.id)),
            document: made
                .document
                .as_ref()
                .map(|d| format!("/api/documents/{}", d.id)),
            media: stored.then(|| format!("/api/recordings/{}/media", r.id)),
        };
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
            created_by: r.created_by,
            template_id: r.template_id,
            links,
            document: made.document,
            transcript: made.transcript,
        }
    }

    /// The recording with what was made from it, read in `tx`.
    pub async fn load(tx: &mut Transaction<'static, Postgres>, r: Row) -> Result<Self, ApiError> {
        let mut made = summaries::load(tx, &[r.id]).await?;
        let m = made.remove(&r.id).unwrap_or_default();
        Ok(Self::with(r, m))
    }
}

/// Before anything is made from it (creation, upload): no summaries to read.
impl From<Row> for Recording {
    fn from(r: Row) -> Self {
        Self::with(r, summaries::Made::default())
    }
}
