//! Settings read from the environment, and the clients they configure.
//!
//! Every binary (API, worker, operator CLI) and the test harness build their connections
//! here, so a setting means the same thing everywhere. The harness fills the structs
//! directly instead of going through the environment.

pub mod connect;
pub mod env;
pub mod events;
pub mod s3_util;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
pub mod tenancy;

pub use env::ConfigError;
pub use settings::{DatabaseSettings, S3Settings, TemporalSettings};

/// The embedded migrations from the repository's `migrations/` folder.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
