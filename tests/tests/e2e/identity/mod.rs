//! Accounts, sessions, tokens, roles and tenancy.

mod accounts;
mod jwt_attacks;
mod members;
mod sessions;
mod tenancy;
