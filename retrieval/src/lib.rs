//! Retrieval over the `passages` table, shared by the API (chat and search) and the worker's
//! tests and benches: nearest neighbours by pgvector cosine over the per-model HNSW index,
//! full-text search over the same rows, and Reciprocal Rank Fusion of the two.
//!
//! A crate of its own because both `activities` (which links the Temporal worker SDK) and
//! the API need it, and the API must not link the worker.
//!
//! Every query takes a transaction begun with `mediadocs_store::tenancy::begin`: row-level
//! security confines it to one org, whatever else the caller filters on.

pub mod fusion;
pub mod hybrid;
pub mod keyword;
pub mod vector;

pub use fusion::{Merged, Scored, fuse, merge};
pub use hybrid::{Candidate, Mode, Scope, search};
