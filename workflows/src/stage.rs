//! The pipeline's stages and what a stage transition says, as `pipeline_events`, the
//! `PipelineStage` search attribute and the events clients follow name them.

use serde::{Deserialize, Serialize};

/// A stage of the media pipeline, in order. Serialised lowercase (`"verify"`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PipelineStage {
    #[default]
    Verify,
    Transcribe,
    Generate,
    Embed,
    Publish,
}

impl PipelineStage {
    pub const ALL: [Self; 5] = [
        Self::Verify,
        Self::Transcribe,
        Self::Generate,
        Self::Embed,
        Self::Publish,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Transcribe => "transcribe",
            Self::Generate => "generate",
            Self::Embed => "embed",
            Self::Publish => "publish",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    fn next(self) -> Option<Self> {
        Self::ALL
            .iter()
            .position(|s| *s == self)
            .and_then(|i| Self::ALL.get(i + 1).copied())
    }

    /// Where the stage starts on the progress bar, 0–100: transcription is the long wait,
    /// and the map phase (or Whisper's chunks) moves the bar from its stage's mark to the
    /// next's. The `progress` query and the `pipeline.progress` events both use it.
    pub const fn percent(self) -> u32 {
        match self {
            Self::Verify => 0,
            Self::Transcribe => 5,
            Self::Generate => 40,
            Self::Embed => 85,
            Self::Publish => 95,
        }
    }

    /// The overall percentage with `done` of `total` steps of this stage finished.
    pub fn percent_within(self, done: u32, total: u32) -> u32 {
        let next = self.next().map_or(100, Self::percent);
        let from = self.percent();
        from + (next - from) * done.min(total) / total.max(1)
    }
}

impl std::fmt::Display for PipelineStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to a stage. Serialised lowercase (`"started"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    Started,
    Completed,
    Failed,
}

impl StageStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_serialise_as_their_names() {
        for stage in PipelineStage::ALL {
            let json = serde_json::to_string(&stage).unwrap();
            assert_eq!(json, format!("\"{}\"", stage.as_str()));
            assert_eq!(PipelineStage::from_name(stage.as_str()), Some(stage));
        }
    }

    #[test]
    fn progress_within_a_stage_reaches_the_next_stage_mark() {
        assert_eq!(PipelineStage::Generate.percent_within(0, 10), 40);
        assert_eq!(PipelineStage::Generate.percent_within(10, 10), 85);
        assert_eq!(PipelineStage::Publish.percent_within(1, 1), 100);
    }
}
