//! Accounts, sessions, tokens, roles and tenancy.

mod accounts;
mod jwt_attacks;
pub(crate) mod members;
mod sessions;
mod tenancy;
