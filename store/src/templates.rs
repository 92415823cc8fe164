//! Templates as the worker and the API both know them. The API is their one writer
//! (`api::templates`); the built-ins are rows of the migration with fixed IDs.

use uuid::Uuid;

/// The built-in "Meeting notes": what a document is written with when neither the
/// recording nor its org names a template.
pub const MEETING_NOTES: Uuid = Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0001);
