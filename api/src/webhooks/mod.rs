//! Endpoints that providers call: unauthenticated by bearer tokens, authenticated instead by
//! what each provider can carry (a signature, a per-job URL token, an echoed header).

pub mod transcription;

use mediadocs_providers::webhook::{job_token::JobTokens, standard::Secret};
use mediadocs_settings::api::WebhookSettings;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;

/// How providers' callbacks are authenticated: each job's URL token and echoed header
/// (from `WEBHOOK_TOKEN_KEY`), and the self-hosted transcribers' signing secrets.
pub struct WebhookKeys {
    pub tokens: JobTokens,
    pub selfhosted_secrets: Vec<Secret>,
}

impl WebhookKeys {
    pub fn new(settings: &WebhookSettings) -> Self {
        Self {
            tokens: JobTokens::from_key(&settings.token_key),
            selfhosted_secrets: settings
                .selfhosted_secrets
                .iter()
                .map(Secret::from_settings)
                .collect(),
        }
    }
}

/// Deepgram's callback carries the whole transcript, word by word: a few hours of speech
/// is tens of megabytes.
pub const BODY_LIMIT: usize = 64 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(transcription::receive))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
}
