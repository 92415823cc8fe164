//! The pipeline's bookkeeping: stage transitions and publishing, each one transaction
//! through the store's recording rules.

use std::sync::Arc;

use mediadocs_store::{recordings, tenancy};
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
        mediadocs_store::documents::publish(&mut tx, org, recording, document).await?;
        tx.commit().await?;
        Ok(())
    }
}
