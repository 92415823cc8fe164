//! The diagnostic round trip's one activity.

use std::sync::Arc;

use mediadocs_workflows::ping::{PingRecord, RecordPingDef};
use sqlx::PgPool;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

pub struct Diagnostics {
    pub pool: PgPool,
}

#[activities]
impl Diagnostics {
    /// Idempotent per workflow ID: a retry returns the row the first attempt wrote.
    #[activity(definition = RecordPingDef)]
    pub async fn record_ping(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: PingRecord,
    ) -> Result<i64, ActivityError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO diagnostic_pings (workflow_id, message) VALUES ($1, $2)
             ON CONFLICT (workflow_id) DO UPDATE SET workflow_id = EXCLUDED.workflow_id
             RETURNING id",
        )
        .bind(&input.workflow_id)
        .bind(&input.message)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }
}
