//! Driving an upload: more part URLs, what S3 already holds, completing and aborting.

use std::collections::BTreeMap;

use axum::{Json, extract::State};
use mediadocs_store::recordings::{self, RecordingStatus, SizeCheckError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Recording, Row, lock, lock_for_change, media, move_to, presign};
use crate::{
    AppState,
    auth::Principal,
    error::{ApiError, FieldError},
    extract::{ApiPath, AppJson},
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresignParts {
    pub parts: Vec<presign::PartRequest>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartUrls {
    pub parts: Vec<presign::PartUrl>,
    pub url_expires_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoredPart {
    pub part_number: i32,
    pub etag: String,
    pub size: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadState {
    pub status: String,
    pub part_size: i64,
    pub part_count: i32,
    /// The parts S3 holds, by number: upload the others, then complete.
    pub parts: Vec<StoredPart>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompletedPart {
    pub part_number: i32,
    pub etag: String,
    /// The part's checksum, when the recording uses per-part checksums.
    pub checksum: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteUpload {
    pub parts: Vec<CompletedPart>,
}

/// The recording, locked and still uploading, with its upload id.
fn uploading(row: &Row) -> Result<&str, ApiError> {
    match (row.status, row.upload_id.as_deref()) {
        (RecordingStatus::Uploading, Some(upload_id)) => Ok(upload_id),
        (status, _) => Err(ApiError::Conflict(format!(
            "the recording is {status}, not uploading"
        ))),
    }
}

fn check_part_numbers(numbers: impl Iterator<Item = i32>, count: i32) -> Result<(), ApiError> {
    let bad: Vec<FieldError> = numbers
        .enumerate()
        .filter(|(_, n)| !(1..=count).contains(n))
        .map(|(i, n)| {
            FieldError::new(
                &format!("parts[{i}].part_number"),
                format!("{n} is not between 1 and {count}"),
            )
        })
        .collect();
    crate::auth::validate::finish(bad)
}

/// Fresh presigned URLs for the given parts: to presign lazily, or to resume.
#[utoipa::path(post, path = "/api/recordings/{id}/upload/parts", tag = "recordings", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = PresignParts,
    responses((status = 200, body = PartUrls), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn presign_parts(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    AppJson(req): AppJson<PresignParts>,
) -> Result<Json<PartUrls>, ApiError> {
    let (tx, row) = lock_for_change(&state, &principal, id).await?;
    tx.commit().await?;
    let upload_id = uploading(&row)?;
    if req.parts.is_empty() || req.parts.len() > 1000 {
        return Err(ApiError::Validation(vec![FieldError::new(
            "parts",
            "must list 1 to 1000 parts",
        )]));
    }
    check_part_numbers(req.parts.iter().map(|p| p.part_number), row.part_count)?;
    if row.part_checksum.is_some() {
        let missing: Vec<FieldError> = req
            .parts
            .iter()
            .enumerate()
            .filter(|(_, p)| p.checksum.is_none())
            .map(|(i, _)| {
                FieldError::new(
                    &format!("parts[{i}].checksum"),
                    "this upload needs per-part checksums",
                )
            })
            .collect();
        crate::auth::validate::finish(missing)?;
    }
    let target = presign::Target {
        key: &row.s3_key,
        upload_id,
        checksum: row.part_checksum.as_deref(),
    };
    let parts = presign::part_urls(&state, &target, &req.parts).await?;
    let url_expires_at = chrono::Utc::now()
        + chrono::Duration::from_std(state.settings.uploads.url_ttl)
            .map_err(anyhow::Error::from)?;
    Ok(Json(PartUrls {
        parts,
        url_expires_at,
    }))
}

async fn list_parts(
    state: &AppState,
    row: &Row,
    upload_id: &str,
) -> Result<Vec<StoredPart>, ApiError> {
    let mut parts = Vec::new();
    let mut pages = state
        .s3
        .list_parts()
        .bucket(&state.settings.s3.bucket)
        .key(&row.s3_key)
        .upload_id(upload_id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| ApiError::Unavailable {
            dependency: "s3",
            detail: format!("{e:?}"),
        })?;
        parts.extend(page.parts().iter().map(|p| StoredPart {
            part_number: p.part_number().unwrap_or_default(),
            etag: p.e_tag().unwrap_or_default().to_owned(),
            size: p.size().unwrap_or_default(),
        }));
    }
    parts.sort_by_key(|p| p.part_number);
    Ok(parts)
}

/// The parts S3 already holds, so a client that crashed can resume where it stopped.
#[utoipa::path(get, path = "/api/recordings/{id}/upload", tag = "recordings", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = UploadState), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)))]
pub async fn uploaded_parts(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<UploadState>, ApiError> {
    let mut tx = principal.begin(&state).await?;
    let row = lock(&mut tx, id).await?;
    tx.commit().await?;
    let upload_id = uploading(&row)?;
    let parts = list_parts(&state, &row, upload_id).await?;
    Ok(Json(UploadState {
        status: row.status.as_str().to_owned(),
        part_size: row.part_size,
        part_count: row.part_count,
        parts,
    }))
}

/// Checks the client's part list against the plan and against what S3 holds; names every
/// bad part. Nothing changes on failure, so the upload stays resumable.
fn check_complete(row: &Row, req: &CompleteUpload, stored: &[StoredPart]) -> Result<(), ApiError> {
    check_part_numbers(req.parts.iter().map(|p| p.part_number), row.part_count)?;
    let mut problems = Vec::new();
    for (i, pair) in req.parts.windows(2).enumerate() {
        if pair[1].part_number == pair[0].part_number {
            problems.push(FieldError::new(
                &format!("parts[{}]", i + 1),
                format!("part {} is listed twice", pair[1].part_number),
            ));
        } else if pair[1].part_number < pair[0].part_number {
            problems.push(FieldError::new(
                &format!("parts[{}]", i + 1),
                "parts must be in ascending order",
            ));
        }
    }
    crate::auth::validate::finish(problems)?;

    let held: BTreeMap<i32, &StoredPart> = stored.iter().map(|p| (p.part_number, p)).collect();
    let listed: BTreeMap<i32, &CompletedPart> =
        req.parts.iter().map(|p| (p.part_number, p)).collect();
    let size = row.size_bytes as u64;
    let mut conflicts = Vec::new();
    for n in 1..=row.part_count {
        let expected =
            media::expected_part_size(size, row.part_size as u64, row.part_count as u32, n as u32)
                as i64;
        match (listed.get(&n), held.get(&n)) {
            (None, _) => conflicts.push(format!("part {n} is missing from the list")),
            (Some(_), None) => conflicts.push(format!("part {n} has not been uploaded")),
            // Some S3-compatible servers (s3s-fs) list parts without ETags; S3 itself then
            // checks them on completion.
            (Some(c), Some(s))
                if !s.etag.is_empty() && c.etag.trim_matches('"') != s.etag.trim_matches('"') =>
            {
                conflicts.push(format!(
                    "part {n}: the ETag does not match the uploaded part"
                ))
            }
            (Some(_), Some(s)) if s.size != expected => conflicts.push(format!(
                "part {n} has {} bytes, expected {expected}",
                s.size
            )),
            _ => {}
        }
    }
    if conflicts.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Conflict(conflicts.join("; ")))
    }
}

/// Completes the upload, checks the stored size, and starts the pipeline. Idempotent: a
/// repeated or concurrent call returns the same recording and workflow.
#[utoipa::path(post, path = "/api/recordings/{id}/upload/complete", tag = "recordings", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = CompleteUpload,
    responses(
        (status = 200, description = "Uploaded; the pipeline has started", body = Recording),
        (status = 404, body = crate::error::Problem),
        (status = 409, description = "Parts missing or mismatched (named), or the upload was aborted",
            body = crate::error::Problem),
        (status = 422, description = "Bad part list, or the stored size differs (recording rejected)",
            body = crate::error::Problem),
    ))]
pub async fn complete(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    AppJson(req): AppJson<CompleteUpload>,
) -> Result<Json<Recording>, ApiError> {
    // The row lock serialises concurrent completes: the second waits, then takes the
    // idempotent path below.
    let (mut tx, row) = lock_for_change(&state, &principal, id).await?;
    if row.status != RecordingStatus::Uploading {
        if !row.status.in_pipeline() {
            return Err(ApiError::Conflict(format!("the upload was {}", row.status)));
        }
        tx.commit().await?;
        crate::orchestration::ensure_pipeline(&state, principal.org_id, id).await?;
        return Ok(Json(row.into()));
    }
    let upload_id = uploading(&row)?.to_owned();
    let stored = list_parts(&state, &row, &upload_id).await?;
    check_complete(&row, &req, &stored)?;

    let bucket = &state.settings.s3.bucket;
    let parts: Vec<_> = req
        .parts
        .iter()
        .map(|p| {
            let mut part = aws_sdk_s3::types::CompletedPart::builder()
                .part_number(p.part_number)
                .e_tag(&p.etag);
            match (row.part_checksum.as_deref(), &p.checksum) {
                (Some("SHA256"), Some(c)) => part = part.checksum_sha256(c),
                (Some("CRC32C"), Some(c)) => part = part.checksum_crc32_c(c),
                _ => {}
            }
            part.build()
        })
        .collect();
    state
        .s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key(&row.s3_key)
        .upload_id(&upload_id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            ApiError::Conflict(format!(
                "S3 refused to complete the upload: {}",
                e.into_service_error()
            ))
        })?;

    let checked = recordings::check_stored_size(
        &mut tx,
        &state.s3,
        bucket,
        row.org_id,
        id,
        &row.s3_key,
        row.size_bytes,
    )
    .await;
    match checked {
        Ok(_) => {}
        Err(SizeCheckError::Mismatch { reason }) => {
            tx.commit().await?;
            return Err(ApiError::Unprocessable(format!(
                "{reason}; the recording is rejected"
            )));
        }
        Err(SizeCheckError::Storage(e)) => return Err(e.into()),
        Err(SizeCheckError::Recording(e)) => return Err(e.into()),
    }
    let row = move_to(tx, &row, RecordingStatus::Uploaded).await?;
    // After the commit: if Temporal is down, the client's retry takes the idempotent path and
    // starts it then.
    crate::orchestration::ensure_pipeline(&state, principal.org_id, id).await?;
    Ok(Json(row.into()))
}

/// Aborts the upload; the recording becomes `aborted`.
#[utoipa::path(post, path = "/api/recordings/{id}/upload/abort", tag = "recordings", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Recording), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)))]
pub async fn abort(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Recording>, ApiError> {
    let (tx, row) = lock_for_change(&state, &principal, id).await?;
    if row.status == RecordingStatus::Aborted {
        return Ok(Json(row.into()));
    }
    let upload_id = uploading(&row)?;
    mediadocs_store::objects::abort_multipart(
        &state.s3,
        &state.settings.s3.bucket,
        &row.s3_key,
        upload_id,
    )
    .await?;
    Ok(Json(
        move_to(tx, &row, RecordingStatus::Aborted).await?.into(),
    ))
}
