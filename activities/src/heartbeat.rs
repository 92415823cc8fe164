//! Heartbeating around long activity steps.
//!
//! A step that waits on a provider for minutes must still heartbeat: that is how a worker
//! that died mid-call is noticed within the heartbeat timeout rather than the call's whole
//! bound, and the only way a cancellation (a deleted recording) reaches the activity.

use std::time::Duration;

use temporalio_common::data_converters::TemporalSerializable;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Well inside the shortest heartbeat timeout the workflows set (30 s); the SDK throttles
/// what actually goes to the server.
const EVERY: Duration = Duration::from_secs(5);

/// Runs `step`, heartbeating `details()` meanwhile; a cancelled activity stops waiting.
pub async fn while_heartbeating<T, D>(
    ctx: &ActivityContext,
    details: impl Fn() -> D,
    step: impl Future<Output = Result<T, ActivityError>>,
) -> Result<T, ActivityError>
where
    D: TemporalSerializable + 'static,
{
    let beat = async {
        loop {
            // A heartbeat that cannot be encoded is a bug, not a reason to fail the step.
            let _ = ctx.record_heartbeat(details()).await;
            tokio::time::sleep(EVERY).await;
        }
    };
    tokio::select! {
        out = step => out,
        () = beat => unreachable!("the heartbeat loop never ends"),
        () = ctx.cancelled() => Err(ActivityError::cancelled()),
    }
}
