//! AssemblyAI's asynchronous API (`/v2/transcript`), also spoken by self-hosted transcribers.
//!
//! AssemblyAI's callback carries only `transcript_id` and `status`, so the transcript is
//! always fetched afterwards. Times are in milliseconds.

use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;

use super::{
    AsyncTranscriber, Callback, CallbackStatus, JobState, Provider, Segment, Submission,
    Transcript, TranscriptionError, TranscriptionSettings, client::http_client, segments,
    status_error, transport_error,
};

pub struct AssemblyAi {
    provider: Provider,
    http: reqwest::Client,
    base: url::Url,
    api_key: Option<secrecy::SecretString>,
}

impl AssemblyAi {
    pub fn new(settings: &TranscriptionSettings) -> Self {
        Self {
            provider: settings.provider,
            http: http_client(settings.timeout),
            base: settings.base_url.clone(),
            api_key: settings.api_key.clone(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base.as_str().trim_end_matches('/'))
    }

    fn authed(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            // AssemblyAI takes the bare key, without a scheme.
            Some(key) => request.header(reqwest::header::AUTHORIZATION, key.expose_secret()),
            None => request,
        }
    }

    async fn send_json<T: for<'de> Deserialize<'de>>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, TranscriptionError> {
        let response = self.authed(request).send().await.map_err(transport_error)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport_error)?;
        if !status.is_success() {
            return Err(status_error(
                status,
                String::from_utf8_lossy(&body).into_owned(),
            ));
        }
        serde_json::from_slice(&body).map_err(|e| TranscriptionError::malformed(self.provider, e))
    }
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct TranscriptResponse {
    id: String,
    status: String,
    error: Option<String>,
    language_code: Option<String>,
    /// Seconds.
    audio_duration: Option<f64>,
    #[serde(default)]
    words: Option<Vec<WordJson>>,
    #[serde(default)]
    utterances: Option<Vec<UtteranceJson>>,
}

#[derive(Deserialize)]
struct WordJson {
    text: String,
    start: i64,
    end: i64,
    confidence: Option<f32>,
    speaker: Option<String>,
}

#[derive(Deserialize)]
struct UtteranceJson {
    text: String,
    start: i64,
    end: i64,
    confidence: Option<f32>,
    speaker: Option<String>,
}

#[derive(Deserialize)]
struct CallbackJson {
    transcript_id: String,
    status: String,
}

pub(super) fn parse_callback(
    provider: Provider,
    body: &[u8],
) -> Result<Callback, TranscriptionError> {
    let parsed: CallbackJson =
        serde_json::from_slice(body).map_err(|e| TranscriptionError::malformed(provider, e))?;
    if parsed.transcript_id.trim().is_empty() {
        return Err(TranscriptionError::malformed(
            provider,
            "empty transcript_id",
        ));
    }
    let status = match parsed.status.as_str() {
        "completed" => CallbackStatus::Completed,
        "error" => CallbackStatus::Failed,
        other => {
            return Err(TranscriptionError::malformed(
                provider,
                format!("callback status {other:?} is neither completed nor error"),
            ));
        }
    };
    Ok(Callback {
        provider_job_id: parsed.transcript_id,
        status,
    })
}

fn to_transcript(
    provider: Provider,
    t: TranscriptResponse,
) -> Result<JobState, TranscriptionError> {
    match t.status.as_str() {
        "queued" | "processing" => return Ok(JobState::Pending),
        "error" => {
            return Ok(JobState::Failed(
                t.error.unwrap_or_else(|| "no reason given".into()),
            ));
        }
        "completed" => {}
        other => {
            return Err(TranscriptionError::malformed(
                provider,
                format!("transcript {} has unknown status {other:?}", t.id),
            ));
        }
    }
    let segments = match (t.utterances, t.words) {
        (Some(utterances), _) if !utterances.is_empty() => utterances
            .into_iter()
            .map(|u| Segment {
                start_ms: u.start,
                end_ms: u.end,
                text: u.text,
                speaker: u.speaker,
                confidence: u.confidence,
            })
            .collect(),
        (_, Some(words)) => segments::from_words(words.into_iter().map(|w| segments::Word {
            start_ms: w.start,
            end_ms: w.end,
            text: w.text,
            speaker: w.speaker,
            confidence: w.confidence,
        })),
        (_, None) => {
            return Err(TranscriptionError::malformed(
                provider,
                format!("completed transcript {} has no words", t.id),
            ));
        }
    };
    check_times(provider, &segments)?;
    Ok(JobState::Completed(
        Transcript {
            language: t.language_code,
            duration_ms: t.audio_duration.map(|s| (s * 1000.0).round() as i64),
            segments,
        }
        .require_speech()?,
    ))
}

/// Times that run backwards mean a payload we misread or the provider mangled; storing them
/// would send citations to the wrong moment.
pub(super) fn check_times(
    provider: Provider,
    segments: &[Segment],
) -> Result<(), TranscriptionError> {
    match segments
        .iter()
        .find(|s| s.start_ms < 0 || s.end_ms < s.start_ms)
    {
        Some(s) => Err(TranscriptionError::malformed(
            provider,
            format!("segment at {} ms ends at {} ms", s.start_ms, s.end_ms),
        )),
        None => Ok(()),
    }
}

#[async_trait::async_trait]
impl AsyncTranscriber for AssemblyAi {
    fn provider(&self) -> Provider {
        self.provider
    }

    async fn submit(&self, job: &Submission<'_>) -> Result<String, TranscriptionError> {
        let mut body = json!({
            "audio_url": job.audio_url,
            "webhook_url": job.callback_url,
            "speaker_labels": true,
            "punctuate": true,
            "format_text": true,
        });
        if let Some((name, value)) = job.callback_header {
            body["webhook_auth_header_name"] = name.into();
            body["webhook_auth_header_value"] = value.into();
        }
        match job.language {
            Some(language) => body["language_code"] = language.into(),
            None => body["language_detection"] = true.into(),
        }
        let created: Created = self
            .send_json(self.http.post(self.url("v2/transcript")).json(&body))
            .await?;
        Ok(created.id)
    }

    async fn fetch(&self, provider_job_id: &str) -> Result<JobState, TranscriptionError> {
        let url = self.url(&format!("v2/transcript/{provider_job_id}"));
        match self
            .send_json::<TranscriptResponse>(self.http.get(url))
            .await
        {
            Ok(t) => to_transcript(self.provider, t),
            // An ID the provider handed out and no longer knows is a lost job, not a refusal.
            Err(TranscriptionError::Rejected {
                status: 404,
                message,
            }) => Ok(JobState::Lost(format!(
                "the provider does not know job {provider_job_id}: {message}"
            ))),
            Err(e) => Err(e),
        }
    }

    fn transcript_in_callback(&self, _body: &[u8]) -> Result<Option<JobState>, TranscriptionError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<JobState, TranscriptionError> {
        to_transcript(Provider::AssemblyAi, serde_json::from_str(json).unwrap())
    }

    #[test]
    fn utterances_become_segments() {
        let state = parse(
            r#"{"id":"t1","status":"completed","language_code":"en","audio_duration":12.5,
            "words":[{"text":"Hi","start":10,"end":200,"confidence":0.9,"speaker":"A"}],
            "utterances":[{"text":"Hi there.","start":10,"end":900,"confidence":0.8,"speaker":"A"},
                          {"text":"Hello.","start":1000,"end":1500,"confidence":0.7,"speaker":"B"}]}"#,
        );
        let JobState::Completed(t) = state.unwrap() else {
            panic!("completed")
        };
        assert_eq!(t.duration_ms, Some(12_500));
        assert_eq!(t.segments.len(), 2);
        assert_eq!(t.segments[1].speaker.as_deref(), Some("B"));
        assert_eq!((t.segments[1].start_ms, t.segments[1].end_ms), (1000, 1500));
    }

    #[test]
    fn statuses_map_and_bad_payloads_are_malformed() {
        assert_eq!(
            parse(r#"{"id":"t","status":"processing"}"#).unwrap(),
            JobState::Pending
        );
        assert_eq!(
            parse(r#"{"id":"t","status":"error","error":"Download error"}"#).unwrap(),
            JobState::Failed("Download error".into())
        );
        assert!(matches!(
            parse(r#"{"id":"t","status":"weird"}"#),
            Err(TranscriptionError::Malformed { .. })
        ));
        assert!(matches!(
            parse(r#"{"id":"t","status":"completed"}"#),
            Err(TranscriptionError::Malformed { .. })
        ));
        assert!(matches!(
            parse(
                r#"{"id":"t","status":"completed","words":[{"text":"x","start":500,"end":100}]}"#
            ),
            Err(TranscriptionError::Malformed { .. })
        ));
        assert!(matches!(
            parse(r#"{"id":"t","status":"completed","words":[],"utterances":[]}"#),
            Err(TranscriptionError::NoSpeech)
        ));
    }

    #[test]
    fn callbacks_parse_strictly() {
        let ok = parse_callback(
            Provider::AssemblyAi,
            br#"{"transcript_id":"abc","status":"completed"}"#,
        )
        .unwrap();
        assert_eq!(ok.provider_job_id, "abc");
        assert_eq!(ok.status, CallbackStatus::Completed);
        for bad in [
            &b"{"[..],
            br#"{"status":"completed"}"#,
            br#"{"transcript_id":"","status":"completed"}"#,
            br#"{"transcript_id":"a","status":"queued"}"#,
            b"[]",
        ] {
            assert!(matches!(
                parse_callback(Provider::AssemblyAi, bad),
                Err(TranscriptionError::Malformed { .. })
            ));
        }
    }
}
