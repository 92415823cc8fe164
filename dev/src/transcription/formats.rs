//! A sidecar transcript rendered in each provider's documented JSON.

use mediadocs_providers::transcription::Transcript;
use serde_json::{Value, json};

use super::{Job, JobStatus};

/// Words spread evenly over their segment: providers time each word, the sidecar does not.
fn words(transcript: &Transcript) -> Vec<(String, i64, i64, Option<String>)> {
    let mut out = Vec::new();
    for segment in &transcript.segments {
        let parts: Vec<&str> = segment.text.split_whitespace().collect();
        let span = (segment.end_ms - segment.start_ms).max(1);
        for (i, word) in parts.iter().enumerate() {
            let n = parts.len() as i64;
            let start = segment.start_ms + span * i as i64 / n;
            let end = segment.start_ms + span * (i as i64 + 1) / n;
            out.push(((*word).to_owned(), start, end, segment.speaker.clone()));
        }
    }
    out
}

pub(super) fn assemblyai_transcript(id: &str, job: &Job) -> Value {
    let status = match job.status {
        JobStatus::Queued => "queued",
        JobStatus::Processing => "processing",
        JobStatus::Completed => "completed",
        JobStatus::Error => "error",
    };
    let mut body = json!({ "id": id, "status": status });
    if job.status == JobStatus::Error {
        body["error"] = json!(job.error.clone().unwrap_or_default());
    }
    if let (JobStatus::Completed, Some(t)) = (job.status, &job.transcript) {
        body["language_code"] = json!(t.language);
        body["audio_duration"] = json!(t.duration_ms.map(|ms| ms as f64 / 1000.0));
        body["text"] = json!(
            t.segments
                .iter()
                .map(|s| s.text.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
        body["words"] = words(t)
            .into_iter()
            .map(|(text, start, end, speaker)| {
                json!({ "text": text, "start": start, "end": end, "confidence": 0.95, "speaker": speaker })
            })
            .collect();
        body["utterances"] = t
            .segments
            .iter()
            .map(|s| {
                json!({ "text": s.text, "start": s.start_ms, "end": s.end_ms,
                        "confidence": s.confidence.unwrap_or(0.95), "speaker": s.speaker })
            })
            .collect();
    }
    body
}

/// Deepgram numbers speakers; the sidecar names them, so names map to their first-seen index.
pub(super) fn deepgram_callback(request_id: &str, job: &Job) -> Value {
    let Some(t) = job
        .transcript
        .as_ref()
        .filter(|_| job.status == JobStatus::Completed)
    else {
        return json!({ "request_id": request_id, "err_code": "INVALID_AUDIO",
                       "err_msg": job.error.clone().unwrap_or_default() });
    };
    let mut speakers: Vec<Option<String>> = Vec::new();
    let mut index = |s: &Option<String>| match speakers.iter().position(|x| x == s) {
        Some(i) => i,
        None => {
            speakers.push(s.clone());
            speakers.len() - 1
        }
    };
    let secs = |ms: i64| ms as f64 / 1000.0;
    let words: Vec<Value> = words(t)
        .into_iter()
        .map(|(text, start, end, speaker)| {
            json!({ "word": text.to_lowercase(), "punctuated_word": text, "start": secs(start),
                    "end": secs(end), "confidence": 0.95, "speaker": index(&speaker) })
        })
        .collect();
    let utterances: Vec<Value> = t
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({ "id": format!("u{i}"), "start": secs(s.start_ms), "end": secs(s.end_ms),
                    "confidence": s.confidence.unwrap_or(0.95), "channel": 0,
                    "transcript": s.text, "speaker": index(&s.speaker) })
        })
        .collect();
    let text = t
        .segments
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    json!({
        "metadata": { "request_id": request_id, "duration": t.duration_ms.map(secs), "channels": 1,
                      "models": ["simulated-deepgram"] },
        "results": {
            "channels": [{ "detected_language": t.language,
                           "alternatives": [{ "transcript": text, "confidence": 0.95, "words": words }] }],
            "utterances": utterances,
        }
    })
}
