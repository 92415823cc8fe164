//! Chat with recordings: questions answered from the org's passages (hybrid retrieval),
//! streamed over SSE with timestamped citations, and the conversations they form.

pub mod ask;
pub mod citations;
pub mod conversations;
pub mod limits;
pub mod prompt;
pub mod request;
pub mod search;
pub mod sources;
pub mod state;
pub mod store;
pub mod stream;
pub mod turn;

pub use mediadocs_settings::chat::ChatSettings;
pub use state::ChatState;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ask::ask))
        .routes(routes!(search::search))
        .routes(routes!(conversations::list))
        .routes(routes!(conversations::get))
}
