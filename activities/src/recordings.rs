//! Activities on a recording's row and its S3 objects.
//!
//! Each runs in a transaction scoped to the recording's org (row-level security applies to
//! the worker as to the API) and locks the row, so it cannot race the API's own changes.

use std::sync::Arc;

use anyhow::Context;
use mediadocs_store::{objects::abort_multipart, tenancy};
use mediadocs_workflows::recording::{
    ExpireUploadDef, RecordingRef, Verified, VerifyStoredSizeDef,
};
use sqlx::PgPool;
use temporalio_macros::activities;
use temporalio_sdk::{
    ApplicationFailure,
    activities::{ActivityContext, ActivityError},
};
use uuid::Uuid;

pub struct Recordings {
    pub pool: PgPool,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
}

pub(crate) fn ids(r: &RecordingRef) -> Result<(Uuid, Uuid), ActivityError> {
    let parse = |s: &str| {
        Uuid::parse_str(s).map_err(|e| permanent("InvalidInput", anyhow::anyhow!("{s}: {e}")))
    };
    Ok((parse(&r.org_id)?, parse(&r.recording_id)?))
}

pub(crate) fn permanent(kind: &str, error: anyhow::Error) -> ActivityError {
    ApplicationFailure::builder(error)
        .type_name(kind.to_owned())
        .non_retryable(true)
        .build()
        .into()
}

#[activities]
impl Recordings {
    #[activity(definition = ExpireUploadDef)]
    pub async fn expire_upload(
        self: Arc<Self>,
        _ctx: ActivityContext,
        recording: RecordingRef,
    ) -> Result<bool, ActivityError> {
        let (org, id) = ids(&recording)?;
        let mut tx = tenancy::begin(&self.pool, Some(org), None).await?;
        let row: Option<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT status, s3_key, upload_id FROM recordings WHERE id = $1 FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((status, key, upload_id)) = row else {
            return Ok(false);
        };
        if status != "uploading" {
            return Ok(false);
        }
        if let Some(upload_id) = upload_id {
            abort_multipart(&self.s3, &self.bucket, &key, &upload_id).await?;
        }
        sqlx::query(
            "UPDATE recordings SET status = 'expired', upload_id = NULL, updated_at = now(),
             status_reason = 'the upload was not completed in time' WHERE id = $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
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
        let (org, id) = ids(&recording)?;
        let mut tx = tenancy::begin(&self.pool, Some(org), None).await?;
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT size_bytes, s3_key FROM recordings WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let (declared, key) = row
            .ok_or_else(|| permanent("RecordingGone", anyhow::anyhow!("recording {id} is gone")))?;
        let head = self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .context("HEAD source")?;
        let stored = head.content_length().unwrap_or(-1);
        if stored != declared {
            sqlx::query(
                "UPDATE recordings SET status = 'failed', failed_stage = 'verify', updated_at = now(),
                 status_reason = $2 WHERE id = $1",
            )
            .bind(id)
            .bind(format!("the stored file has {stored} bytes, not the declared {declared}"))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Err(permanent(
                "SizeMismatch",
                anyhow::anyhow!("stored {stored} bytes, declared {declared}"),
            ));
        }
        sqlx::query("UPDATE recordings SET status = 'verifying', updated_at = now() WHERE id = $1 AND status = 'uploaded'")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Verified {
            stored_bytes: stored,
        })
    }
}
