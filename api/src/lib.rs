//! The mediadocs HTTP API.
//!
//! [`app`] builds the whole router; `main` and the end-to-end tests both serve it.

pub mod config;
pub mod diagnostics;
pub mod error;
pub mod health;
pub mod http_metrics;
pub mod openapi;
pub mod state;
pub mod workflows;

use axum::{Router, http::HeaderName};
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

pub use config::ApiSettings;
pub use error::{ApiError, Result};
pub use state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The router with every route and the cross-cutting layers.
pub fn app(state: AppState) -> Router {
    let mut api = Router::new();
    if state.settings.diagnostics {
        api = api.merge(diagnostics::router());
    }
    Router::new()
        .merge(health::router())
        .merge(http_metrics::router())
        .merge(openapi::router())
        .nest("/api", api)
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
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
