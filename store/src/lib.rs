//! Where mediadocs keeps its state, and the one owner of what several crates write.
//!
//! - [`connect`]: the PostgreSQL pool, the migrations, the S3 and Temporal clients.
//! - [`tenancy`]: the org-scoped transaction that row-level security keys on.
//! - [`events`]: the one writer of the client-facing event feed, and its payloads.
//! - [`documents`]: a recording's document and its versions, only ever added to.
//! - [`generations`]: regeneration runs, one at a time per recording.
//! - [`templates`]: the built-in template every org falls back to.
//! - [`usage`]: each org's daily LLM token count, which chat and documents both spend.
//! - [`objects`]: S3 operations both the API and the worker perform.
//! - [`recordings`]: a recording's status and the moves between statuses, with what each
//!   move writes; the size check and its outcome.
//!
//! The API and the activities both link this crate, so a rule about a shared table lives
//! here once instead of in each of them.

pub mod connect;
pub mod documents;
pub mod events;
pub mod generations;
pub mod objects;
pub mod recordings;
pub mod templates;
pub mod tenancy;
pub mod usage;

/// The embedded migrations from the repository's `migrations/` folder.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
