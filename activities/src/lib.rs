//! Activity implementations: every side effect the workflows need.
//!
//! Each activity is idempotent, because Temporal may deliver any of them twice; the key is
//! named on each one.

pub mod bench;
pub mod diagnostics;
pub mod recordings;

pub use bench::Noop;
pub use diagnostics::Diagnostics;
pub use recordings::Recordings;
