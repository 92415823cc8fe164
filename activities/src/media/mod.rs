//! The verify stage's media activity: probe the stored recording and keep what was found.
//!
//! `source` reads the S3 object in ranged blocks, `sniff` names its container, `probe` asks
//! symphonia for its tracks, and `tracks` puts symphonia's answer in the contract's terms.
//! `chunking` cuts the 16 kHz mono samples `mediadocs_audio` decodes into the pieces a
//! synchronous provider accepts.

pub mod chunking;
pub mod pcm;
mod probe;
mod sniff;
mod source;
mod tracks;

use std::sync::Arc;

use mediadocs_store::{recordings, tenancy};
use mediadocs_workflows::{
    media::{MediaInfo, ProbeDef},
    recording::RecordingRef,
};
use sqlx::PgPool;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

pub use probe::{ProbeError, probe_object};
pub use source::{BLOCK_SIZE, FetchError};

use crate::failure::{fail, gone};

/// The recording's object, and what an earlier probe stored.
#[derive(sqlx::FromRow)]
struct Probed {
    s3_key: String,
    media_info: Option<serde_json::Value>,
}

pub struct Media {
    pub pool: PgPool,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
}

impl Media {
    /// The activity's body, callable without Temporal. Idempotent by recording: the first
    /// stored result answers every retry. The probe runs outside any transaction, so no row
    /// lock is held across S3 reads.
    pub async fn probe_recording(
        &self,
        recording: &RecordingRef,
    ) -> Result<MediaInfo, ActivityError> {
        let RecordingRef {
            org_id: org,
            recording_id: id,
        } = *recording;
        let mut tx = tenancy::begin(&self.pool, Some(org), None).await?;
        let row: Option<Probed> =
            sqlx::query_as("SELECT s3_key, media_info FROM recordings WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        tx.commit().await?;
        let Probed {
            s3_key: key,
            media_info: stored,
        } = row.ok_or_else(|| gone(id))?;
        if let Some(stored) = stored {
            return Ok(serde_json::from_value(stored)?);
        }

        let info = probe_object(&self.s3, &self.bucket, &key)
            .await
            .map_err(|e| {
                if e.is_retryable() {
                    anyhow::Error::new(e).into()
                } else {
                    fail(e.kind(), e)
                }
            })?;

        let mut tx = tenancy::begin(&self.pool, Some(org), None).await?;
        // A duplicate delivery may have stored first; keep its result and return it.
        let stored =
            recordings::store_media_info(&mut tx, id, &serde_json::to_value(&info)?).await?;
        tx.commit().await?;
        let stored = stored.ok_or_else(|| gone(id))?;
        tracing::info!(container = %info.container, bytes_read = info.bytes_read, "probed");
        Ok(serde_json::from_value(stored)?)
    }
}

#[activities]
impl Media {
    #[tracing::instrument(skip_all, fields(recording_id = %recording.recording_id))]
    #[activity(definition = ProbeDef)]
    pub async fn probe(
        self: Arc<Self>,
        _ctx: ActivityContext,
        recording: RecordingRef,
    ) -> Result<MediaInfo, ActivityError> {
        self.probe_recording(&recording).await
    }
}
