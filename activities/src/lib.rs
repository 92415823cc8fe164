//! Activity implementations: every side effect the workflows need.
//!
//! Each activity is idempotent, because Temporal may deliver any of them twice; the key is
//! named on each one.

pub mod bench;
pub mod bookkeeping;
pub mod diagnostics;
pub mod document;
pub mod embedding;
pub mod events;
mod failure;
pub mod heartbeat;
pub mod media;
pub mod recordings;
pub mod transcription;

pub use bench::Noop;
pub use bookkeeping::Bookkeeping;
pub use diagnostics::Diagnostics;
pub use media::Media;
pub use recordings::Recordings;
pub use transcription::Transcription;
