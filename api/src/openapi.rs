//! The OpenAPI document and the interactive docs page. Swagger UI's assets are vendored
//! into the binary, so the page works on machines with no internet access.

use axum::Router;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "mediadocs API", description = "Turns recordings into documentation."),
    paths(
        crate::health::healthz,
        crate::health::readyz,
        crate::diagnostics::ping,
    ),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "diagnostics", description = "End-to-end smoke tests for operators"),
    )
)]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    SwaggerUi::new("/docs")
        .url("/openapi.json", ApiDoc::openapi())
        .into()
}
