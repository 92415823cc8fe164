//! The no-op activity behind the bare-Temporal baseline.

use mediadocs_workflows::bench::NoopDef;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

pub struct Noop;

#[activities]
impl Noop {
    #[activity(definition = NoopDef)]
    pub async fn noop(_ctx: ActivityContext, step: u32) -> Result<u32, ActivityError> {
        Ok(step)
    }
}
