//! Stage transitions: the recording's status, the `pipeline_events` log and the events
//! clients follow, in one transaction.

use std::sync::Arc;

use mediadocs_store::tenancy;
use mediadocs_workflows::pipeline::{Publish, PublishDef, STAGES, StageTransition, TransitionDef};
use serde_json::json;
use sqlx::PgPool;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::{
    events,
    recordings::{ids, permanent},
};

pub struct Pipeline {
    pub pool: PgPool,
}

/// The recording status a transition leads to, if it changes it.
fn status_after(stage: &str, status: &str) -> Option<&'static str> {
    match (stage, status) {
        (_, "failed") => Some("failed"),
        ("verify", "started") => Some("verifying"),
        ("transcribe", "started") => Some("transcribing"),
        ("generate", "started") => Some("generating"),
        ("embed", "started") => Some("embedding"),
        ("publish", "completed") => Some("completed"),
        _ => None,
    }
}

#[activities]
impl Pipeline {
    #[activity(definition = TransitionDef)]
    pub async fn transition(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: StageTransition,
    ) -> Result<(), ActivityError> {
        let (org, recording) = ids(&input.recording)?;
        if !STAGES.contains(&input.stage.as_str())
            || !["started", "completed", "failed"].contains(&input.status.as_str())
        {
            return Err(permanent(
                "InvalidInput",
                anyhow::anyhow!("no transition {}/{}", input.stage, input.status),
            ));
        }
        let run_id = ctx.info().workflow_run_id.clone().unwrap_or_default();
        let mut tx = tenancy::begin(&self.pool, Some(org), None).await?;
        let current: Option<String> =
            sqlx::query_scalar("SELECT status FROM recordings WHERE id = $1 FOR UPDATE")
                .bind(recording)
                .fetch_optional(&mut *tx)
                .await?;
        // A deleted recording has no row; its workflow is being cancelled. Nothing to record.
        let Some(current) = current else {
            return Ok(());
        };
        let detail = json!({ "message": input.message });
        let logged = sqlx::query(
            "INSERT INTO pipeline_events (org_id, recording_id, stage, status, detail, run_id)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(org)
        .bind(recording)
        .bind(&input.stage)
        .bind(&input.status)
        .bind(&detail)
        .bind(&run_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if logged == 0 {
            // This run already recorded it: a retried activity changes nothing twice.
            return Ok(());
        }
        if let Some(next) = status_after(&input.stage, &input.status)
            && next != current
        {
            sqlx::query(
                "UPDATE recordings SET status = $2, updated_at = now(),
                     failed_stage = CASE WHEN $2 = 'failed' THEN $3 ELSE NULL END,
                     status_reason = CASE WHEN $2 = 'failed' THEN $4 ELSE NULL END
                 WHERE id = $1",
            )
            .bind(recording)
            .bind(next)
            .bind(&input.stage)
            .bind(&input.message)
            .execute(&mut *tx)
            .await?;
            events::emit(
                &mut tx,
                org,
                None,
                "recording.status_changed",
                json!({ "recording_id": recording, "status": next, "previous": current, "stage": input.stage }),
            )
            .await?;
        }
        if input.status == "started" {
            let percent = events::stage_percent(&input.stage);
            events::progress(&mut tx, org, recording, &input.stage, percent, None).await?;
        }
        if input.status == "failed" {
            events::emit(
                &mut tx,
                org,
                None,
                "recording.failed",
                json!({ "recording_id": recording, "stage": input.stage, "message": input.message }),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[activity(definition = PublishDef)]
    pub async fn publish(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: Publish,
    ) -> Result<(), ActivityError> {
        let (org, recording) = ids(&input.recording)?;
        let document = uuid::Uuid::parse_str(&input.document_id)
            .map_err(|e| permanent("InvalidInput", e.into()))?;
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
            events::emit(
                &mut tx,
                org,
                None,
                "document.ready",
                json!({ "recording_id": recording, "document_id": document, "version": version, "title": title }),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
