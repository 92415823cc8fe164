//! The transcription stage's activity contracts, and the types that cross them.
//!
//! Only IDs and small summaries cross: segments go straight from the provider into
//! PostgreSQL inside the activity.

use serde::{Deserialize, Serialize};
use temporalio_common::ActivityError;
use temporalio_macros::activity_definitions;

use crate::{FailureKind, recording::RecordingRef};

/// Sent by the webhook endpoint when a provider reports that a transcription job ended.
/// IDs only: the transcript itself is fetched (or read from the stored delivery) by an
/// activity, so no payload reaches the workflow's history.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TranscriptionFinished {
    /// `assemblyai`, `deepgram` or `selfhosted`.
    pub provider: String,
    /// Our job ID (`transcription_jobs.id`), which names the attempt.
    pub job_id: String,
    pub provider_job_id: String,
    /// `completed` or `failed`.
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SubmitTranscription {
    pub recording: RecordingRef,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SubmittedJob {
    /// Our job ID (`transcription_jobs.id`).
    pub job_id: String,
    pub provider: String,
    /// The worker's configured poll interval and give-up time. They reach the workflow
    /// through this result, so a replay sees the values the run used.
    pub poll_interval_secs: u64,
    pub timeout_secs: u64,
    /// The provider answers in the request (Whisper): nothing was submitted, and the
    /// workflow runs `transcription.transcribe_chunks` instead of waiting. Absent from the
    /// histories of runs before the field existed, which were all asynchronous.
    #[serde(default)]
    pub synchronous: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CollectTranscript {
    pub recording: RecordingRef,
    pub job_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Collected {
    /// The provider is not done yet.
    Pending,
    /// The transcript is stored.
    Stored {
        segments: u32,
        duration_ms: Option<i64>,
    },
    /// The provider gave up on the audio, or found no speech in it (`TranscriptionFailed`,
    /// `NoSpeech`).
    Failed { kind: FailureKind, reason: String },
}

pub struct TranscriptionActivities;

#[activity_definitions]
impl TranscriptionActivities {
    /// Creates this run's job (once) and submits it to the provider (once it has an ID,
    /// never again).
    #[activity(name = "transcription.submit")]
    pub fn submit(input: SubmitTranscription) -> Result<SubmittedJob, ActivityError> {
        unimplemented!()
    }

    /// Looks for the job's result (a stored callback, or the provider's API) and stores the
    /// transcript. Idempotent: a stored transcript is reported, not fetched again.
    #[activity(name = "transcription.collect")]
    pub fn collect(input: CollectTranscript) -> Result<Collected, ActivityError> {
        unimplemented!()
    }

    /// The synchronous provider's path: decodes the audio, cuts it into chunks and
    /// transcribes them, heartbeating the chunks done. Idempotent by (job, chunk): a retry
    /// sends only the chunks not yet stored, then stitches them into the transcript.
    #[activity(name = "transcription.transcribe_chunks")]
    pub fn transcribe_chunks(input: CollectTranscript) -> Result<Collected, ActivityError> {
        unimplemented!()
    }
}

pub use transcription_activities::Collect as CollectDef;
pub use transcription_activities::Submit as SubmitDef;
pub use transcription_activities::TranscribeChunks as TranscribeChunksDef;
