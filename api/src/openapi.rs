//! The route table and its OpenAPI document, built together: a route exists only through
//! `routes!(handler)`, which also puts it in the document, so none can be left out.

use axum::Router;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "mediadocs API", description = "Turns recordings into documentation. \
        Errors are application/problem+json (RFC 9457). Lists page by cursor."),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "auth", description = "Accounts, sessions and tokens"),
        (name = "orgs", description = "Orgs, members, invites and API keys"),
        (name = "recordings", description = "Recordings and their presigned multipart uploads"),
        (name = "transcripts", description = "Transcripts as JSON, SRT, WebVTT and text; speaker names"),
        (name = "documents", description = "Documents: read, edit (If-Match), versions, export, regenerate"),
        (name = "templates", description = "How documents are written: the org's templates and the built-ins"),
        (name = "chat", description = "Questions answered from the recordings, with citations; search; conversations"),
        (name = "webhooks", description = "Callbacks from providers, authenticated per provider"),
        (name = "events", description = "The live event feed: WebSocket (with a ticket) or SSE, resumable by event ID"),
        (name = "diagnostics", description = "End-to-end smoke tests for operators"),
    )
)]
pub struct ApiDoc;

/// `Authorization: Bearer <token>`: an access token (JWT) or an API key (`mdk_…`).
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT access token, or an API key (mdk_…)")
                    .build(),
            ),
        );
    }
}

/// Every API route, and the document describing exactly those routes.
pub fn routes(diagnostics: bool) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let mut router = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::health::router())
        .merge(crate::auth::router())
        .merge(crate::orgs::router())
        .merge(crate::recordings::router())
        .merge(crate::transcripts::router())
        .merge(crate::documents::router())
        .merge(crate::templates::router())
        .merge(crate::chat::router())
        .merge(crate::webhooks::router())
        .merge(crate::events::router());
    if diagnostics {
        router = router.merge(crate::diagnostics::router());
    }
    router.split_for_parts()
}
