//! What every handler can reach.

use std::sync::Arc;

use sqlx::PgPool;

use crate::config::ApiSettings;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub temporal: temporalio_client::Client,
    pub s3: aws_sdk_s3::Client,
    pub settings: Arc<ApiSettings>,
}
