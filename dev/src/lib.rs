//! Development servers, for `scripts/dev`, the tests and the benches; never part of a
//! production image.
//!
//! [`openai`] and [`transcription`] are local servers that speak external providers' wire
//! protocols, so our real client code can be exercised without the providers. Each is a
//! simulator and is named as one; each counts the calls it receives and has knobs for the
//! failures the real providers produce. Their binaries, `mediadocs-openai-simulator` and
//! `mediadocs-transcription-simulator`, serve them to the dev stack.
//!
//! [`s3`] is the S3-compatible server (`mediadocs-dev-s3`) the dev stack and the tests
//! store objects in.

pub mod openai;
pub mod s3;
pub mod transcription;
