//! The mediadocs HTTP API.
//!
//! [`app`] builds the whole router; `main` and the end-to-end tests both serve it.

pub mod auth;
pub mod chat;
pub mod diagnostics;
pub mod documents;
pub mod download;
pub mod error;
pub mod events;
pub mod extract;
pub mod health;
pub mod http_metrics;
pub mod openapi;
pub mod orchestration;
pub mod orgs;
pub mod pagination;
pub mod recordings;
pub mod state;
pub mod templates;
pub mod transcripts;
pub mod webhooks;

use axum::{Router, extract::DefaultBodyLimit, http::HeaderName};
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};
use utoipa_swagger_ui::SwaggerUi;

pub use error::{ApiError, Result};
pub use mediadocs_settings::api::ApiSettings;
pub use state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// JSON bodies are small: media never passes through the API (it goes straight to S3).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The router with every route and the cross-cutting layers.
pub fn app(state: AppState) -> Router {
    let (api, spec) = openapi::routes(state.settings.diagnostics);
    api.merge(http_metrics::router())
        .merge(SwaggerUi::new("/docs").url("/openapi.json", spec))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(cors(&state.settings.cors_origins))
        .layer(axum::middleware::from_fn(http_metrics::record))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &http::Request<_>| {
            let id = req
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), uri = %req.uri(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// Browsers on the allowed origins may call the API with bearer tokens. Uploads go to S3
/// directly, so the bucket needs its own CORS rules (see the README).
fn cors(origins: &[String]) -> CorsLayer {
    use axum::http::{HeaderName, HeaderValue, Method, header};
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_MATCH,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            REQUEST_ID,
            header::RETRY_AFTER,
            header::ETAG,
            header::CONTENT_DISPOSITION,
        ])
        .max_age(std::time::Duration::from_secs(600))
}
