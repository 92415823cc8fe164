//! Activities on a recording's row and its S3 objects.
//!
//! Each runs in a transaction scoped to the recording's org (row-level security applies to
//! the worker as to the API) and locks the row, so it cannot race the API's own changes.

use std::sync::Arc;

use mediadocs_store::{
    objects::abort_multipart,
    recordings::{self as store, RecordingStatus, SizeCheckError, StatusChange},
    tenancy,
};
use mediadocs_workflows::{
    FailureKind,
    recording::{ExpireUploadDef, RecordingRef, Verified, VerifyStoredSizeDef},
};
use sqlx::PgPool;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::failure::{fail, gone, recording_error};

pub struct Recordings {
    pub pool: PgPool,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
}

#[derive(sqlx::FromRow)]
struct Upload {
    status: RecordingStatus,
    s3_key: String,
    upload_id: Option<String>,
    size_bytes: i64,
}

#[activities]
impl Recordings {
    #[activity(definition = ExpireUploadDef)]
    pub async fn expire_upload(
        self: Arc<Self>,
        _ctx: ActivityContext,
        recording: RecordingRef,
    ) -> Result<bool, ActivityError> {
        let RecordingRef {
            org_id: org,
            recording_id: id,
        } = recording;
        let mut tx = tenancy::begin(&self.pool, Some(org), None).await?;
        let Some(row) = upload_for_update(&mut tx, id).await? else {
            return Ok(false);
        };
        if row.status != RecordingStatus::Uploading {
            return Ok(false);
        }
        if let Some(upload_id) = row.upload_id {
            abort_multipart(&self.s3, &self.bucket, &row.s3_key, &upload_id).await?;
        }
        let change = StatusChange::to(RecordingStatus::Expired)
            .because("the upload was not completed in time");
        store::set_status(&mut tx, org, id, change)
            .await
            .map_err(recording_error)?;
        tx.commit().await?;
        tracing::info!(recording_id = %id, "stale upload expired");
        Ok(true)
    }

    #[activity(definition = VerifyStoredSizeDef)]
    pub async fn verify_stored_size(
        self: Arc<Self>,
        _ctx: ActivityContext,
        recording: RecordingRef,
    ) -> Result<Verified, ActivityError> {
        let RecordingRef {
            org_id: org,
            recording_id: id,
        } = recording;
        let mut tx = tenancy::begin(&self.pool, Some(org), None).await?;
        let row = upload_for_update(&mut tx, id)
            .await?
            .ok_or_else(|| gone(id))?;
        let checked = store::check_stored_size(
            &mut tx,
            &self.s3,
            &self.bucket,
            org,
            id,
            &row.s3_key,
            row.size_bytes,
        )
        .await;
        tx.commit().await?;
        match checked {
            Ok(stored_bytes) => Ok(Verified { stored_bytes }),
            Err(SizeCheckError::Mismatch { reason }) => {
                Err(fail(FailureKind::SizeMismatch, anyhow::anyhow!(reason)))
            }
            Err(SizeCheckError::Storage(e)) => Err(e.into()),
            Err(SizeCheckError::Recording(e)) => Err(recording_error(e)),
        }
    }
}

async fn upload_for_update(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    id: uuid::Uuid,
) -> sqlx::Result<Option<Upload>> {
    sqlx::query_as(
        "SELECT status, s3_key, upload_id, size_bytes FROM recordings WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}
