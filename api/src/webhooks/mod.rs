//! Endpoints that providers call: unauthenticated by bearer tokens, authenticated instead by
//! what each provider can carry (a signature, a per-job URL token, an echoed header).

pub mod transcription;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;

/// Deepgram's callback carries the whole transcript, word by word: a few hours of speech
/// is tens of megabytes.
pub const BODY_LIMIT: usize = 64 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(transcription::receive))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
}
