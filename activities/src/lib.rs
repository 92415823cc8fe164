//! Activity implementations: every side effect the workflows need.
//!
//! Each activity is idempotent, because Temporal may deliver any of them twice; the key is
//! named on each one.

pub mod bench;
pub mod diagnostics;
pub mod document;
pub mod embedding;
pub mod events;
pub mod heartbeat;
pub mod media;
pub mod pipeline;
pub mod recordings;
pub mod transcription;

pub use bench::Noop;
pub use diagnostics::Diagnostics;
pub use media::Media;
pub use pipeline::Pipeline;
pub use recordings::Recordings;
pub use transcription::Transcription;
