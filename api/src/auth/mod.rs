//! Authentication: accounts, sessions and tokens, and who the caller is.

pub mod jwt;
pub mod password;
pub mod principal;
pub mod rate_limit;
pub mod role;
pub mod secrets;
pub mod sessions;
pub mod validate;

pub use principal::{Actor, Principal};
pub use role::Role;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sessions::register))
        .routes(routes!(sessions::login))
        .routes(routes!(sessions::refresh))
        .routes(routes!(sessions::logout))
        .routes(routes!(sessions::switch_org))
}
