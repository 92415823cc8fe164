//! The verify stage's media contract: what probing a recording found.
//!
//! The probe reads only the container's headers (ranged reads from S3), so its result is a
//! small summary, fit for the workflow's history; it is also stored in `recordings.media_info`.

use serde::{Deserialize, Serialize};
use temporalio_common::ActivityError;
use temporalio_macros::activity_definitions;

use crate::recording::RecordingRef;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MediaInfo {
    /// `webm`, `mkv`, `mp4`, `mov`, `wav`, `ogg`, `flac`, `mp3`, `mp2`, `mp1` or `aac` (ADTS).
    pub container: String,
    /// From the container's or the longest audio track's header; `None` when the header does
    /// not say (a live-recorded WebM, for one), since counting packets would read the file.
    pub duration_ms: Option<i64>,
    pub tracks: Vec<TrackInfo>,
    /// Bytes fetched from storage to probe; bounded by the headers, not the file's size.
    pub bytes_read: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TrackInfo {
    /// `audio`, `video`, `subtitle` or `other`.
    pub kind: String,
    /// A short name (`opus`, `aac`, `mp3`, `pcm_s16le`, …), or `unknown`.
    pub codec: String,
    pub sample_rate: Option<u32>,
    pub channels: Option<u16>,
}

pub struct MediaActivities;

#[activity_definitions]
impl MediaActivities {
    /// Identifies the stored recording's container and tracks and stores what it found in
    /// `recordings.media_info`. Idempotent: a stored result is returned, not probed again.
    #[activity(name = "media.probe")]
    pub fn probe(input: RecordingRef) -> Result<MediaInfo, ActivityError> {
        unimplemented!()
    }
}

pub use media_activities::Probe as ProbeDef;
