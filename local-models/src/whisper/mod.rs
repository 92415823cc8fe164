//! Speech to text: Whisper in candle, loaded from CTranslate2 float16 weights (the only Whisper
//! weights the package registries ship), decoded the way openai-whisper's `transcribe` does:
//! timestamp rules, no-speech skipping, temperature fallback and 30 s windows seeking by timestamps.

mod ct2;
mod decode;
mod decoder;
mod longform;
mod mel;
mod npz;
mod tokens;
mod weights;
pub mod wer;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use candle_transformers::models::whisper::model::Whisper;
use serde::Deserialize;

use decode::WindowDecoder;
use decoder::TextDecoder;
use longform::LongForm;
use mel::{MelFilters, N_FRAMES, N_SAMPLES, SAMPLE_RATE};
use tokens::{LogitRules, MAX_INITIAL_TIMESTAMP_INDEX, SpecialTokens};

pub struct WhisperModel {
    name: String,
    /// candle's encoder; its decoder half shares the weights but is unused (see decoder.rs).
    whisper: Whisper,
    decoder: TextDecoder,
    tokenizer: gguf_tokenizers::Tokenizer,
    tokens: SpecialTokens,
    rules: LogitRules,
    filters: MelFilters,
    multilingual: bool,
}

#[derive(Debug, Clone, Default)]
pub struct TranscribeOptions {
    /// ISO 639-1, e.g. "en"; `None` detects (multilingual models) or means "en".
    pub language: Option<String>,
    /// Text the speech continues (names, spelling), as openai-whisper's `initial_prompt`.
    pub prompt: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Transcript {
    pub language: String,
    /// Seconds.
    pub duration: f64,
    pub segments: Vec<Segment>,
}

/// OpenAI's `verbose_json` segment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Segment {
    pub id: usize,
    /// Mel frame (10 ms) where the window that produced it starts.
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
    #[error("{} is missing", .0.display())]
    MissingFile(PathBuf),
    #[error("cannot read {}: {source}", file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {reason}", file.display())]
    Invalid { file: PathBuf, reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error("unsupported language {0:?} for this model")]
    UnsupportedLanguage(String),
    #[error("cancelled")]
    Cancelled,
    #[error("model error: {0}")]
    Model(String),
}

/// The parts of CTranslate2's Whisper `config.json` decoding needs.
#[derive(Debug, Deserialize)]
struct Ct2Config {
    #[serde(default)]
    lang_ids: Vec<u32>,
    #[serde(default)]
    suppress_ids: Vec<u32>,
    #[serde(default)]
    suppress_ids_begin: Vec<u32>,
}

/// openai-whisper's test: only multilingual vocabularies reach 51865 tokens.
const MULTILINGUAL_VOCAB: usize = 51_865;

impl WhisperModel {
    /// `dir` holds model.bin, config.json, tokenizer.json and mel_filters.npz.
    pub fn load(dir: &Path) -> Result<Self, LoadError> {
        let files = [
            "model.bin",
            "config.json",
            "tokenizer.json",
            "mel_filters.npz",
        ]
        .map(|f| dir.join(f));
        if let Some(missing) = files.iter().find(|f| !f.is_file()) {
            return Err(LoadError::MissingFile(missing.clone()));
        }
        let [model_bin, config_json, tokenizer_json, mel_npz] = files;
        let invalid = |file: &Path| {
            let file = file.to_path_buf();
            move |reason: String| LoadError::Invalid {
                file: file.clone(),
                reason,
            }
        };

        let config: Ct2Config = serde_json::from_slice(&read(&config_json)?)
            .map_err(|e| invalid(&config_json)(e.to_string()))?;
        let tokenizer = gguf_tokenizers::Tokenizer::from_file(&tokenizer_json)
            .map_err(|e| invalid(&tokenizer_json)(e.to_string()))?;
        let tokens = SpecialTokens::from_tokenizer(&tokenizer, &config.lang_ids)
            .map_err(|e| invalid(&tokenizer_json)(e))?;

        let ct2 = ct2::Ct2Model::parse(&read(&model_bin)?)
            .map_err(|e| invalid(&model_bin)(e.to_string()))?;
        if ct2.spec != "WhisperSpec" {
            return Err(invalid(&model_bin)(format!(
                "holds a {} (revision {}) model, not Whisper",
                ct2.spec, ct2.revision
            )));
        }
        let mut suppress = config.suppress_ids.clone();
        suppress.extend(tokens.always_suppressed());
        let cfg = weights::config_from_ct2(&ct2, suppress.clone())
            .map_err(|e| invalid(&model_bin)(e.to_string()))?;
        let tensors =
            weights::candle_tensors(&ct2, &cfg).map_err(|e| invalid(&model_bin)(e.to_string()))?;
        drop(ct2);
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
        let decoder = TextDecoder::load(vb.pp("model.decoder"), &cfg)
            .map_err(|e| invalid(&model_bin)(e.to_string()))?;
        let multilingual = cfg.vocab_size >= MULTILINGUAL_VOCAB;
        let filters = MelFilters::load(&mel_npz, cfg.num_mel_bins).map_err(invalid(&mel_npz))?;
        let whisper = Whisper::load(&vb, cfg).map_err(|e| invalid(&model_bin)(e.to_string()))?;

        let rules = LogitRules {
            timestamp_begin: tokens.timestamp_begin,
            eot: tokens.eot,
            no_timestamps: tokens.no_timestamps,
            suppress,
            suppress_begin: config.suppress_ids_begin,
            max_initial_timestamp_index: Some(MAX_INITIAL_TIMESTAMP_INDEX),
        };
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("whisper");
        Ok(Self {
            name: name.strip_suffix("-ct2").unwrap_or(name).to_string(),
            whisper,
            decoder,
            tokenizer,
            tokens,
            rules,
            filters,
            multilingual,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_multilingual(&self) -> bool {
        self.multilingual
    }

    /// `pcm`: 16 kHz mono. `progress` is called after each 30 s window; `Break` cancels.
    pub fn transcribe(
        &self,
        pcm: &[f32],
        options: &TranscribeOptions,
        progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
    ) -> Result<Transcript, TranscribeError> {
        let language = self.language_token(options.language.as_deref())?;
        let initial_prompt = match options.prompt.as_deref().map(str::trim) {
            Some(p) if !p.is_empty() => self
                .tokenizer
                .encode(format!(" {p}"), false)
                .map_err(|e| TranscribeError::Model(e.to_string()))?
                .get_ids()
                .to_vec(),
            _ => Vec::new(),
        };
        let mel = mel::log_mel_spectrogram(pcm, &self.filters, N_SAMPLES)
            .map_err(|e| TranscribeError::Model(e.to_string()))?;
        let content_frames = mel.n_frames.saturating_sub(N_FRAMES);
        let run = LongForm {
            window: WindowDecoder {
                decoder: &self.decoder,
                rules: &self.rules,
                special: &self.tokens,
                tokenizer: &self.tokenizer,
            },
            pcm,
            // Cloning shares the weights (Arc); forward needs &mut for candle's unused kv cache.
            encoder: self.whisper.encoder.clone(),
            language,
            multilingual: self.multilingual,
            initial_prompt,
        };
        let decoded = run.run(&mel, content_frames, progress)?;
        let language = decoded
            .language
            .and_then(|id| self.tokens.language_code(id))
            // English-only models, and empty input to a detecting model.
            .unwrap_or("en")
            .to_string();
        Ok(Transcript {
            language,
            duration: pcm.len() as f64 / SAMPLE_RATE as f64,
            segments: decoded.segments,
        })
    }

    /// The language token to prompt with; `None` on a multilingual model means "detect".
    fn language_token(&self, code: Option<&str>) -> Result<Option<u32>, TranscribeError> {
        let Some(code) = code else { return Ok(None) };
        let lower = code.trim().to_ascii_lowercase();
        if !self.multilingual {
            return if lower == "en" {
                Ok(None)
            } else {
                Err(TranscribeError::UnsupportedLanguage(code.to_string()))
            };
        }
        self.tokens
            .language(&lower)
            .map(Some)
            .ok_or_else(|| TranscribeError::UnsupportedLanguage(code.to_string()))
    }
}

fn read(file: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(file).map_err(|source| LoadError::Read {
        file: file.to_path_buf(),
        source,
    })
}
