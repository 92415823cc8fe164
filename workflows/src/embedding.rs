//! The embed stage's activity contract: a recording's transcript, cut into passages, into
//! pgvector.
//!
//! Only the recording's IDs go in and a count comes out; passages and vectors go straight
//! from PostgreSQL through the embedder back into PostgreSQL inside the activity.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_common::ActivityError;
use temporalio_macros::activity_definitions;
use temporalio_workflow::ActivityOptions;

use crate::{failure::backoff, recording::RecordingRef};

/// What the embed stage stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Embedded {
    /// Passages of the recording now stored for `model` (none beyond them remain).
    pub passages: u32,
    pub model: String,
    pub dimension: u32,
}

pub struct EmbeddingActivities;

#[activity_definitions]
impl EmbeddingActivities {
    /// Cuts the recording's transcript into passages, embeds them in batches and upserts them
    /// (keyed by recording, model and passage index), then deletes the passages beyond the new
    /// count. Heartbeats the batches done; a retried attempt resumes after them.
    #[activity(name = "embedding.embed_transcript")]
    pub fn embed_transcript(input: RecordingRef) -> Result<Embedded, ActivityError> {
        unimplemented!()
    }
}

pub use embedding_activities::EmbedTranscript as EmbedTranscriptDef;

/// Options for `embed_transcript`. It heartbeats after every batch, so a stalled worker is
/// noticed within the heartbeat timeout and the retry resumes where it stopped; the
/// start-to-close bound only has to cover the longest transcript.
pub fn embed_activity() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(60 * 60))
        .heartbeat_timeout(Duration::from_secs(120))
        .retry_policy(backoff(Duration::from_secs(2), Duration::from_secs(120), 0))
        .build()
}
