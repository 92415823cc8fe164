//! `POST /api/recordings`: a recording in `uploading`, its multipart upload, and the first
//! batch of presigned part URLs.

use axum::{Json, extract::State, http::StatusCode};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Recording, media, presign};
use crate::{
    AppState,
    auth::{Principal, Role, validate},
    error::{ApiError, FieldError},
    extract::AppJson,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRecording {
    /// Defaults to the filename.
    pub title: Option<String>,
    /// Display only; the storage key is always the server's own.
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the whole file, if the client knows it.
    pub sha256: Option<String>,
    /// Base64 CRC32C of the whole file, if the client knows it.
    pub crc32c: Option<String>,
    /// `SHA256` or `CRC32C`: every part must then carry that checksum, which S3 verifies.
    pub part_checksum: Option<String>,
    /// The template to write the document with: one of the org's or a built-in. Default:
    /// the org's default template, else the built-in meeting notes.
    pub template_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadPlan {
    pub part_size: i64,
    pub part_count: i32,
    pub url_expires_at: DateTime<Utc>,
    /// Presigned URLs for the first parts; `POST …/upload/parts` gives the rest. Empty when
    /// parts carry checksums, which must be known before presigning.
    pub parts: Vec<presign::PartUrl>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedRecording {
    pub recording: Recording,
    pub upload: UploadPlan,
}

struct Valid {
    title: String,
    filename: String,
    content_type: String,
    ext: &'static str,
    size: u64,
}

fn validate(state: &AppState, req: &CreateRecording) -> Result<Valid, ApiError> {
    let ext = media::extension(&req.content_type).ok_or_else(|| {
        ApiError::UnsupportedMediaType(format!(
            "content_type {:?} is not accepted; allowed: {}",
            req.content_type,
            media::allowed_list()
        ))
    })?;
    let mut errors = Vec::new();
    let max = state.settings.uploads.max_size;
    if req.size_bytes <= 0 || req.size_bytes as u64 > max {
        errors.push(FieldError::new(
            "size_bytes",
            format!("must be between 1 and {max} bytes"),
        ));
    }
    let filename = media::sanitize_filename(&req.filename);
    if filename.is_none() {
        errors.push(FieldError::new("filename", "must name a file"));
    }
    let title = validate::name(
        "title",
        req.title.as_deref().unwrap_or(""),
        200,
        &mut errors,
    );
    if req
        .sha256
        .as_ref()
        .is_some_and(|h| h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        errors.push(FieldError::new("sha256", "must be 64 hex digits"));
    }
    if req
        .crc32c
        .as_ref()
        .is_some_and(|c| STANDARD.decode(c).map_or(true, |b| b.len() != 4))
    {
        errors.push(FieldError::new("crc32c", "must be the base64 of 4 bytes"));
    }
    if req
        .part_checksum
        .as_deref()
        .is_some_and(|a| a != "SHA256" && a != "CRC32C")
    {
        errors.push(FieldError::new("part_checksum", "must be SHA256 or CRC32C"));
    }
    validate::finish(errors)?;
    let filename = filename.expect("validated");
    Ok(Valid {
        title: if title.is_empty() {
            filename.clone()
        } else {
            title
        },
        filename,
        content_type: req.content_type.trim().to_owned(),
        ext,
        size: req.size_bytes as u64,
    })
}

/// Creates a recording and starts its multipart upload.
#[utoipa::path(post, path = "/api/recordings", tag = "recordings", security(("bearer" = [])),
    request_body = CreateRecording,
    responses(
        (status = 201, body = CreatedRecording),
        (status = 404, description = "`template_id` names no template the org can use", body = crate::error::Problem),
        (status = 415, description = "Content type not allowed; the detail lists the allowed ones",
            body = crate::error::Problem),
        (status = 422, body = crate::error::Problem),
        (status = 429, description = "Too many uploads in progress for the org", body = crate::error::Problem),
    ))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(req): AppJson<CreateRecording>,
) -> Result<(StatusCode, Json<CreatedRecording>), ApiError> {
    principal.require(Role::Member)?;
    let valid = validate(&state, &req)?;
    let settings = &state.settings.uploads;
    let (part_size, part_count) = media::plan(valid.size, settings.part_size);
    let id = Uuid::now_v7();
    let org = principal.org_id.to_string();
    let key = mediadocs_workflows::names::source_key(&org, id.to_string(), valid.ext);

    let mut tx = principal.begin(&state).await?;
    if let Some(template) = req.template_id {
        crate::templates::require_usable(&mut tx, template).await?;
    }
    // Serialises creations per org, so the in-progress limit holds under concurrency.
    sqlx::query("SELECT 1 FROM orgs WHERE id = $1 FOR UPDATE")
        .bind(principal.org_id)
        .execute(&mut *tx)
        .await?;
    let in_progress: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM recordings WHERE org_id = $1 AND status = 'uploading'",
    )
    .bind(principal.org_id)
    .fetch_one(&mut *tx)
    .await?;
    if in_progress >= settings.max_concurrent_per_org {
        return Err(ApiError::TooManyRequests {
            retry_after_secs: 60,
        });
    }

    let mut create = state
        .s3
        .create_multipart_upload()
        .bucket(&state.settings.s3.bucket)
        .key(&key)
        .content_type(&valid.content_type);
    if let Some(algorithm) = req.part_checksum.as_deref() {
        create = create.checksum_algorithm(algorithm.into());
    }
    let upload_id = create
        .send()
        .await
        .map_err(|e| ApiError::Unavailable {
            dependency: "s3",
            detail: format!("{e:?}"),
        })?
        .upload_id
        .ok_or_else(|| anyhow::anyhow!("S3 returned no upload id"))?;

    let row = insert_and_schedule(
        &state, &mut tx, &principal, id, &key, &upload_id, &valid, &req, part_size, part_count,
    )
    .await;
    let row = match row {
        Ok(row) => {
            tx.commit().await?;
            row
        }
        Err(e) => {
            // Nothing half-made survives: no row, no dangling multipart upload.
            drop(tx);
            let bucket = &state.settings.s3.bucket;
            if let Err(abort) =
                mediadocs_store::objects::abort_multipart(&state.s3, bucket, &key, &upload_id).await
            {
                tracing::warn!(error = ?abort, "could not abort the multipart upload of a failed create");
            }
            return Err(e);
        }
    };

    let parts: Vec<presign::PartRequest> = if req.part_checksum.is_some() {
        Vec::new()
    } else {
        (1..=part_count.min(settings.first_batch) as i32)
            .map(|part_number| presign::PartRequest {
                part_number,
                checksum: None,
            })
            .collect()
    };
    let target = presign::Target {
        key: &key,
        upload_id: &upload_id,
        checksum: None,
    };
    let urls = presign::part_urls(&state, &target, &parts).await?;
    let url_expires_at =
        Utc::now() + chrono::Duration::from_std(settings.url_ttl).map_err(anyhow::Error::from)?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedRecording {
            upload: UploadPlan {
                part_size: row.part_size,
                part_count: row.part_count,
                url_expires_at,
                parts: urls,
            },
            recording: row.into(),
        }),
    ))
}

#[allow(clippy::too_many_arguments)]
async fn insert_and_schedule(
    state: &AppState,
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    principal: &Principal,
    id: Uuid,
    key: &str,
    upload_id: &str,
    valid: &Valid,
    req: &CreateRecording,
    part_size: u64,
    part_count: u32,
) -> Result<super::Row, ApiError> {
    let ttl = chrono::Duration::from_std(state.settings.uploads.upload_ttl)
        .map_err(anyhow::Error::from)?;
    sqlx::query(
        "INSERT INTO recordings (id, org_id, title, filename, content_type, size_bytes, status, s3_key,
            upload_id, part_size, part_count, sha256, crc32c, part_checksum, created_by, upload_expires_at,
            created_by_api_key, template_id)
         VALUES ($1, $2, $3, $4, $5, $6, 'uploading', $7, $8, $9, $10, $11, $12, $13, $14, now() + $15, $16, $17)",
    )
    .bind(id)
    .bind(principal.org_id)
    .bind(&valid.title)
    .bind(&valid.filename)
    .bind(&valid.content_type)
    .bind(valid.size as i64)
    .bind(key)
    .bind(upload_id)
    .bind(part_size as i64)
    .bind(part_count as i32)
    .bind(req.sha256.as_ref().map(|s| s.to_ascii_lowercase()))
    .bind(&req.crc32c)
    .bind(&req.part_checksum)
    .bind(principal.user_id())
    .bind(ttl)
    .bind(match principal.actor {
        crate::auth::Actor::ApiKey { id } => Some(id),
        crate::auth::Actor::User { .. } => None,
    })
    .bind(req.template_id)
    .execute(&mut **tx)
    .await?;
    crate::orchestration::start_upload_expiry(state, principal.org_id, id).await?;
    super::lock(tx, id).await
}
