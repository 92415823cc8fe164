//! Deepgram's pre-recorded API with a `callback` URL.
//!
//! Deepgram's callback body *is* the result, and Deepgram keeps no copy we could fetch
//! later, so the webhook stores the body and the transcript is parsed from it. For the same
//! reason a job whose callback never comes cannot be polled: it is resubmitted instead.
//! Times are in seconds.

use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;

use super::{
    AsyncTranscriber, Callback, CallbackStatus, JobState, Provider, Segment, Submission,
    Transcript, TranscriptionError, TranscriptionSettings, assemblyai::check_times,
    client::http_client, segments, status_error, transport_error,
};

const PROVIDER: Provider = Provider::Deepgram;

pub struct Deepgram {
    http: reqwest::Client,
    base: url::Url,
    api_key: Option<secrecy::SecretString>,
}

impl Deepgram {
    pub fn new(settings: &TranscriptionSettings) -> Self {
        Self {
            http: http_client(settings.timeout),
            base: settings.base_url.clone(),
            api_key: settings.api_key.clone(),
        }
    }
}

#[derive(Deserialize)]
struct Created {
    request_id: String,
}

#[derive(Deserialize)]
struct Body {
    metadata: Option<Metadata>,
    results: Option<Results>,
    request_id: Option<String>,
    err_code: Option<String>,
    err_msg: Option<String>,
}

#[derive(Deserialize)]
struct Metadata {
    request_id: String,
    duration: Option<f64>,
}

#[derive(Deserialize)]
struct Results {
    channels: Vec<Channel>,
    utterances: Option<Vec<Utterance>>,
}

#[derive(Deserialize)]
struct Channel {
    alternatives: Vec<Alternative>,
    detected_language: Option<String>,
}

#[derive(Deserialize)]
struct Alternative {
    #[serde(default)]
    words: Vec<WordJson>,
}

#[derive(Deserialize)]
struct WordJson {
    word: String,
    punctuated_word: Option<String>,
    start: f64,
    end: f64,
    confidence: Option<f32>,
    speaker: Option<u32>,
}

#[derive(Deserialize)]
struct Utterance {
    start: f64,
    end: f64,
    confidence: Option<f32>,
    transcript: String,
    speaker: Option<u32>,
}

fn ms(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}

fn speaker(n: Option<u32>) -> Option<String> {
    n.map(|n| format!("Speaker {n}"))
}

fn parse_body(body: &[u8]) -> Result<Body, TranscriptionError> {
    serde_json::from_slice(body).map_err(|e| TranscriptionError::malformed(PROVIDER, e))
}

fn request_id(body: &Body) -> Option<&str> {
    body.metadata
        .as_ref()
        .map(|m| m.request_id.as_str())
        .or(body.request_id.as_deref())
        .filter(|id| !id.trim().is_empty())
}

pub(super) fn parse_callback(body: &[u8]) -> Result<Callback, TranscriptionError> {
    let parsed = parse_body(body)?;
    let id = request_id(&parsed)
        .ok_or_else(|| TranscriptionError::malformed(PROVIDER, "no request_id"))?
        .to_owned();
    let status = if parsed.err_code.is_some() || parsed.err_msg.is_some() {
        CallbackStatus::Failed
    } else if parsed.results.is_some() {
        CallbackStatus::Completed
    } else {
        return Err(TranscriptionError::malformed(
            PROVIDER,
            "neither results nor an error",
        ));
    };
    Ok(Callback {
        provider_job_id: id,
        status,
    })
}

/// The transcript (or failure) a stored callback body carries.
pub fn transcript_from_callback(body: &[u8]) -> Result<JobState, TranscriptionError> {
    let parsed = parse_body(body)?;
    if parsed.err_code.is_some() || parsed.err_msg.is_some() {
        let reason = [parsed.err_code, parsed.err_msg]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
        return Ok(JobState::Failed(reason.join(": ")));
    }
    let results = parsed
        .results
        .ok_or_else(|| TranscriptionError::malformed(PROVIDER, "no results"))?;
    let channel = results
        .channels
        .first()
        .ok_or_else(|| TranscriptionError::malformed(PROVIDER, "no channels"))?;
    let segments: Vec<Segment> = match results.utterances {
        Some(utterances) if !utterances.is_empty() => utterances
            .into_iter()
            .map(|u| Segment {
                start_ms: ms(u.start),
                end_ms: ms(u.end),
                text: u.transcript,
                speaker: speaker(u.speaker),
                confidence: u.confidence,
            })
            .collect(),
        _ => {
            let alternative = channel
                .alternatives
                .first()
                .ok_or_else(|| TranscriptionError::malformed(PROVIDER, "no alternatives"))?;
            segments::from_words(alternative.words.iter().map(|w| segments::Word {
                start_ms: ms(w.start),
                end_ms: ms(w.end),
                text: w.punctuated_word.clone().unwrap_or_else(|| w.word.clone()),
                speaker: speaker(w.speaker),
                confidence: w.confidence,
            }))
        }
    };
    check_times(PROVIDER, &segments)?;
    Ok(JobState::Completed(
        Transcript {
            language: channel.detected_language.clone(),
            duration_ms: parsed.metadata.and_then(|m| m.duration).map(ms),
            segments,
        }
        .require_speech()?,
    ))
}

#[async_trait::async_trait]
impl AsyncTranscriber for Deepgram {
    fn provider(&self) -> Provider {
        PROVIDER
    }

    async fn submit(&self, job: &Submission<'_>) -> Result<String, TranscriptionError> {
        let mut url = self
            .base
            .join("v1/listen")
            .map_err(|e| TranscriptionError::Rejected {
                status: 0,
                message: e.to_string(),
            })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("callback", job.callback_url)
                .append_pair("punctuate", "true")
                .append_pair("smart_format", "true")
                .append_pair("diarize", "true")
                .append_pair("utterances", "true");
            match job.language {
                Some(language) => q.append_pair("language", language),
                None => q.append_pair("detect_language", "true"),
            };
        }
        let mut request = self.http.post(url).json(&json!({ "url": job.audio_url }));
        if let Some(key) = &self.api_key {
            request = request.header(
                reqwest::header::AUTHORIZATION,
                format!("Token {}", key.expose_secret()),
            );
        }
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport_error)?;
        if !status.is_success() {
            return Err(status_error(
                status,
                String::from_utf8_lossy(&body).into_owned(),
            ));
        }
        let created: Created = serde_json::from_slice(&body)
            .map_err(|e| TranscriptionError::malformed(PROVIDER, e))?;
        Ok(created.request_id)
    }

    async fn fetch(&self, _provider_job_id: &str) -> Result<JobState, TranscriptionError> {
        Err(TranscriptionError::Unsupported(
            "Deepgram keeps no results to poll; resubmit the job instead",
        ))
    }

    fn transcript_in_callback(&self, body: &[u8]) -> Result<Option<JobState>, TranscriptionError> {
        transcript_from_callback(body).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESULT: &str = r#"{
      "metadata": {"request_id": "req-1", "duration": 4.25, "channels": 1},
      "results": {
        "channels": [{"detected_language": "en", "alternatives": [{"transcript": "Yeah. So.",
          "confidence": 0.98, "words": [
            {"word": "yeah", "punctuated_word": "Yeah.", "start": 0.08, "end": 0.32, "confidence": 0.99, "speaker": 0},
            {"word": "so", "punctuated_word": "So.", "start": 3.0, "end": 3.2, "confidence": 0.9, "speaker": 1}]}]}],
        "utterances": [
          {"start": 0.08, "end": 0.32, "confidence": 0.99, "channel": 0, "transcript": "Yeah.", "speaker": 0, "id": "u1"},
          {"start": 3.0, "end": 3.2, "confidence": 0.9, "channel": 0, "transcript": "So.", "speaker": 1, "id": "u2"}]
      }}"#;

    #[test]
    fn results_become_segments() {
        let cb = parse_callback(RESULT.as_bytes()).unwrap();
        assert_eq!(
            (cb.provider_job_id.as_str(), cb.status),
            ("req-1", CallbackStatus::Completed)
        );
        let JobState::Completed(t) = transcript_from_callback(RESULT.as_bytes()).unwrap() else {
            panic!("completed")
        };
        assert_eq!(t.duration_ms, Some(4250));
        assert_eq!(t.language.as_deref(), Some("en"));
        assert_eq!(t.segments[1].start_ms, 3000);
        assert_eq!(t.segments[1].speaker.as_deref(), Some("Speaker 1"));
        let words_only = RESULT.replace("\"utterances\"", "\"ignored\"");
        let JobState::Completed(t) = transcript_from_callback(words_only.as_bytes()).unwrap()
        else {
            panic!("completed")
        };
        assert_eq!(
            t.segments
                .iter()
                .map(|s| s.text.as_str())
                .collect::<Vec<_>>(),
            ["Yeah.", "So."]
        );
    }

    #[test]
    fn errors_truncation_and_silence() {
        let err =
            br#"{"request_id":"req-2","err_code":"INVALID_AUDIO","err_msg":"could not decode"}"#;
        assert_eq!(parse_callback(err).unwrap().status, CallbackStatus::Failed);
        assert_eq!(
            transcript_from_callback(err).unwrap(),
            JobState::Failed("INVALID_AUDIO: could not decode".into())
        );
        let truncated = &RESULT.as_bytes()[..RESULT.len() / 2];
        assert!(matches!(
            parse_callback(truncated),
            Err(TranscriptionError::Malformed { .. })
        ));
        assert!(matches!(
            parse_callback(b"{}"),
            Err(TranscriptionError::Malformed { .. })
        ));
        let silent = r#"{"metadata":{"request_id":"r","duration":3.0},"results":{"channels":[{"alternatives":[{"transcript":"","words":[]}]}]}}"#;
        assert!(matches!(
            transcript_from_callback(silent.as_bytes()),
            Err(TranscriptionError::NoSpeech)
        ));
    }
}
