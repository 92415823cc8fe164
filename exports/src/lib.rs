//! A document's exports: what a person downloads or the web app shows, computed from the
//! document's Markdown and its recording's transcript.
//!
//! Pure functions, with no I/O, database or async, so the API can call them inside a
//! request and the benches can measure them alone.
//!
//! - [`subtitles`]: a transcript's cues as SubRip, WebVTT and a plain-text transcript.
//! - [`html`]: Markdown as a sanitised HTML fragment with linked recording references, and
//!   a standalone page around it.
//! - [`docx`]: Markdown as a Word document.
//! - [`timestamps`]: the `[mm:ss]` / `[h:mm:ss]` references documents make to their
//!   recording.
//! - [`markdown_title`] and [`filename`]: what an exported file is called.

pub mod docx;
pub mod html;
mod naming;
pub mod subtitles;
pub mod timestamps;

pub use docx::ExportError;
pub use naming::{filename, markdown_title};
pub use subtitles::Cue;
