//! What every handler can reach.

use std::sync::Arc;

use sqlx::PgPool;

use crate::auth::{jwt::JwtKeys, rate_limit::LoginLimiter};
use mediadocs_settings::api::ApiSettings;

#[derive(Clone)]
pub struct AppState {
    /// Connected as the application role: row-level security applies to every query.
    pub pool: PgPool,
    pub temporal: temporalio_client::Client,
    pub s3: aws_sdk_s3::Client,
    pub jwt: Arc<JwtKeys>,
    pub login_limiter: LoginLimiter,
    pub settings: Arc<ApiSettings>,
    /// The keys providers' callbacks are checked with, built once from the settings.
    pub webhooks: Arc<crate::webhooks::WebhookKeys>,
    /// Chat's embedder, LLM client and rate limiter.
    pub chat: crate::chat::ChatState,
    /// This instance's live event fan-out (LISTEN, hub, pruning).
    pub events: crate::events::Events,
}

impl AppState {
    pub fn new(
        pool: PgPool,
        temporal: temporalio_client::Client,
        s3: aws_sdk_s3::Client,
        settings: ApiSettings,
    ) -> Self {
        let auth = &settings.auth;
        let events = crate::events::Events::start(&pool, &settings.events);
        Self {
            pool,
            temporal,
            s3,
            jwt: Arc::new(JwtKeys::new(
                &auth.jwt_keys.0,
                &auth.issuer,
                &auth.audience,
                auth.access_ttl,
            )),
            login_limiter: LoginLimiter::new(auth.login_per_account, auth.login_per_ip),
            chat: crate::chat::ChatState::new(settings.chat.clone()),
            events,
            webhooks: Arc::new(crate::webhooks::WebhookKeys::new(&settings.webhooks)),
            settings: Arc::new(settings),
        }
    }
}
