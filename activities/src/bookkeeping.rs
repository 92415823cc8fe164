//! The pipeline's bookkeeping: stage transitions and publishing, each one transaction
//! through the store's recording rules.

use std::sync::Arc;

use mediadocs_store::{events::Event, recordings, tenancy};
use mediadocs_workflows::{
    RecordingRef,
    bookkeeping::{Publish, PublishDef, StageTransition, TransitionDef},
};
use sqlx::PgPool;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::failure::recording_error;

pub struct Bookkeeping {
    pub pool: PgPool,
}

#[activities]
impl Bookkeeping {
    #[activity(definition = TransitionDef)]
    pub async fn transition(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: StageTransition,
    ) -> Result<(), ActivityError> {
        let run_id = ctx.info().workflow_run_id.clone().unwrap_or_default();
        let org = input.recording.org_id;
        let mut tx = tenancy::begin(&self.pool, Some(org), None).await?;
        recordings::record_stage(
            &mut tx,
            org,
            input.recording.recording_id,
            input.stage,
            input.status,
            input.message.as_deref(),
            &run_id,
        )
        .await
        .map_err(recording_error)?;
        tx.commit().await?;
        Ok(())
    }

    #[activity(definition = PublishDef)]
    pub async fn publish(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: Publish,
    ) -> Result<(), ActivityError> {
        let RecordingRef {
            org_id: org,
            recording_id: recording,
        } = input.recording;
        let document = input.document_id;
        let mut tx = tenancy::begin(&self.pool, Some(org), None).await?;
        let published: Option<(i32, String)> = sqlx::query_as(
            "UPDATE documents SET status = 'published', published_at = now()
             WHERE id = $1 AND recording_id = $2 AND status = 'draft'
             RETURNING version, title",
        )
        .bind(document)
        .bind(recording)
        .fetch_optional(&mut *tx)
        .await?;
        // None: published by an earlier attempt (whose event went out with it), or gone with
        // its recording.
        if let Some((version, title)) = published {
            Event::DocumentReady {
                recording_id: recording,
                document_id: document,
                version,
                title,
            }
            .emit(&mut tx, org)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
