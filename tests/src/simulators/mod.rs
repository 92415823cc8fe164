//! Local servers that speak external providers' wire protocols, so our real client code can
//! be exercised without the providers. Each is a simulator and is named as one; each counts
//! the calls it receives and has knobs for the failures the real providers produce.

pub mod openai;
pub mod transcription;
