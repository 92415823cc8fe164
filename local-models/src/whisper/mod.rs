//! TEMPORARY interface stub (replaced by the whisper branch).
use std::{ops::ControlFlow, path::Path};
pub struct WhisperModel {
    name: String,
}
impl WhisperModel {
    pub fn load(dir: &Path) -> Result<Self, LoadError> {
        Ok(Self {
            name: dir
                .file_name()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches("-ct2")
                .to_string(),
        })
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn is_multilingual(&self) -> bool {
        false
    }
    pub fn transcribe(
        &self,
        pcm: &[f32],
        _o: &TranscribeOptions,
        progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
    ) -> Result<Transcript, TranscribeError> {
        let total = pcm.len() as f64 / 16000.0;
        if progress(Progress {
            processed_seconds: total,
            total_seconds: total,
        })
        .is_break()
        {
            return Err(TranscribeError::Cancelled);
        }
        Ok(Transcript {
            language: "en".into(),
            duration: total,
            segments: vec![Segment {
                id: 0,
                seek: 0,
                start: 0.0,
                end: total,
                text: " stub".into(),
                tokens: vec![],
                temperature: 0.0,
                avg_logprob: 0.0,
                compression_ratio: 1.0,
                no_speech_prob: 0.0,
            }],
        })
    }
}
#[derive(Debug, Clone, Default)]
pub struct TranscribeOptions {
    pub language: Option<String>,
    pub prompt: Option<String>,
}
#[derive(Debug, Clone, serde::Serialize)]
pub struct Transcript {
    pub language: String,
    pub duration: f64,
    pub segments: Vec<Segment>,
}
#[derive(Debug, Clone, serde::Serialize)]
pub struct Segment {
    pub id: usize,
    pub seek: usize,
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub tokens: Vec<u32>,
    pub temperature: f64,
    pub avg_logprob: f64,
    pub compression_ratio: f64,
    pub no_speech_prob: f64,
}
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub processed_seconds: f64,
    pub total_seconds: f64,
}
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("x")]
    X,
}
#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error("unsupported language {0}")]
    UnsupportedLanguage(String),
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Model(String),
}
