//! OpenAI's Whisper API (`/v1/audio/transcriptions`, `verbose_json` with segment
//! timestamps), and the self-hosted servers that copy it, through async-openai.
//!
//! Whisper is synchronous and takes at most 25 MB per request, so the pipeline decodes,
//! resamples and chunks the audio first and calls [`WhisperClient::transcribe`] per chunk.
//! The answer is parsed leniently (only `segments[].start/end/text` are required) because
//! self-hosted servers omit fields OpenAI sends, such as `usage`.

use async_openai::{
    Client,
    config::OpenAIConfig,
    error::OpenAIError,
    types::audio::{
        AudioInput, AudioResponseFormat, CreateTranscriptionRequest, TimestampGranularity,
    },
};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::{
    Provider, Segment, TranscriptionError, TranscriptionSettings, assemblyai::check_times,
    client::http_client,
};

const PROVIDER: Provider = Provider::Whisper;

pub struct WhisperClient {
    client: Client<OpenAIConfig>,
    model: String,
}

#[derive(Deserialize)]
struct VerboseJson {
    language: Option<String>,
    segments: Vec<SegmentJson>,
}

#[derive(Deserialize)]
struct SegmentJson {
    start: f64,
    end: f64,
    text: String,
    avg_logprob: Option<f64>,
    no_speech_prob: Option<f64>,
}

/// One chunk's result; times are relative to the start of the chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkTranscript {
    pub language: Option<String>,
    pub segments: Vec<Segment>,
}

/// Whisper marks stretches it believes are silence with a high `no_speech_prob`; their
/// text is usually a hallucination ("Thanks for watching!") and is dropped.
const NO_SPEECH_CUTOFF: f64 = 0.8;

impl WhisperClient {
    pub fn new(settings: &TranscriptionSettings) -> Self {
        let mut config =
            OpenAIConfig::new().with_api_base(settings.base_url.as_str().trim_end_matches('/'));
        if let Some(key) = &settings.api_key {
            config = config.with_api_key(key.expose_secret());
        }
        Self {
            client: Client::with_config(config).with_http_client(http_client(settings.timeout)),
            model: settings.model.clone(),
        }
    }

    /// Transcribes one chunk of audio (`file_name` carries the format, e.g. `chunk-3.wav`).
    pub async fn transcribe(
        &self,
        file_name: &str,
        audio: bytes::Bytes,
        language: Option<&str>,
    ) -> Result<ChunkTranscript, TranscriptionError> {
        let request = CreateTranscriptionRequest {
            file: AudioInput::from_bytes(file_name.to_owned(), audio),
            model: self.model.clone(),
            language: language.map(str::to_owned),
            response_format: Some(AudioResponseFormat::VerboseJson),
            timestamp_granularities: Some(vec![TimestampGranularity::Segment]),
            ..Default::default()
        };
        let raw = self
            .client
            .audio()
            .transcription()
            .create_raw(request)
            .await
            .map_err(openai_error)?;
        parse(&raw)
    }
}

fn parse(raw: &[u8]) -> Result<ChunkTranscript, TranscriptionError> {
    let body: VerboseJson = serde_json::from_slice(raw)
        .map_err(|e| TranscriptionError::malformed(PROVIDER, format!("verbose_json: {e}")))?;
    let segments: Vec<Segment> = body
        .segments
        .into_iter()
        .filter(|s| s.no_speech_prob.is_none_or(|p| p < NO_SPEECH_CUTOFF))
        .filter(|s| !s.text.trim().is_empty())
        .map(|s| Segment {
            start_ms: (s.start * 1000.0).round() as i64,
            end_ms: (s.end * 1000.0).round() as i64,
            text: s.text.trim().to_owned(),
            speaker: None,
            confidence: s.avg_logprob.map(|lp| lp.exp().clamp(0.0, 1.0) as f32),
        })
        .collect();
    check_times(PROVIDER, &segments)?;
    Ok(ChunkTranscript {
        language: body.language,
        segments,
    })
}

fn openai_error(e: OpenAIError) -> TranscriptionError {
    match e {
        OpenAIError::ApiError(api) => {
            let status = api.status_code;
            let message = api.api_error.message;
            if status.as_u16() == 429 || status.is_server_error() {
                TranscriptionError::Unavailable(format!("{status}: {message}"))
            } else {
                TranscriptionError::Rejected {
                    status: status.as_u16(),
                    message,
                }
            }
        }
        OpenAIError::JSONDeserialize(e, _) => TranscriptionError::malformed(PROVIDER, e),
        OpenAIError::InvalidArgument(m) => TranscriptionError::Rejected {
            status: 0,
            message: m,
        },
        other => TranscriptionError::Unavailable(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_parse_and_silence_is_dropped() {
        let raw = br#"{"task":"transcribe","language":"english","duration":9.5,"text":"Hello. Thanks",
            "segments":[{"id":0,"seek":0,"start":0.0,"end":4.2,"text":" Hello.","avg_logprob":-0.1,"no_speech_prob":0.01},
                        {"id":1,"seek":0,"start":4.2,"end":9.5,"text":" Thanks for watching!","avg_logprob":-1.2,"no_speech_prob":0.95}]}"#;
        let t = parse(raw).unwrap();
        assert_eq!(t.segments.len(), 1);
        assert_eq!((t.segments[0].start_ms, t.segments[0].end_ms), (0, 4200));
        assert_eq!(t.segments[0].text, "Hello.");
        assert!((t.segments[0].confidence.unwrap() - 0.905).abs() < 0.01);
    }

    #[test]
    fn truncated_or_wrong_shape_is_malformed() {
        for raw in [
            &br#"{"segments":[{"start":0.0,"end":1"#[..],
            br#"{"text":"no segments"}"#,
            br#"{"segments":[{"start":2.0,"end":1.0,"text":"backwards"}]}"#,
        ] {
            assert!(
                matches!(parse(raw), Err(TranscriptionError::Malformed { .. })),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }
}
