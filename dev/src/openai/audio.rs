//! `POST /v1/audio/transcriptions`: the uploaded WAV's duration, transcribed from a script.

use std::sync::atomic::Ordering::SeqCst;

use axum::{
    Json,
    extract::{Multipart, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{SCRIPT, Sim, api_error, millis};

/// Whisper's segments run up to about this long.
const SEGMENT_SECS: f64 = 5.0;

pub(super) async fn transcribe(State(sim): Sim, headers: HeaderMap, form: Multipart) -> Response {
    let _flight = sim.in_flight();
    sim.counters.transcription_requests.fetch_add(1, SeqCst);
    if let Some(denied) = sim.deny(&headers) {
        return denied;
    }
    let (file, format) = match read_form(form).await {
        Ok(parts) => parts,
        Err(message) => return invalid(&message, None),
    };
    let duration = match wav_duration(&file) {
        Ok(duration) => duration,
        Err(why) => {
            let message = format!("Invalid file format: {why}. The simulator reads WAV only.");
            return invalid(&message, Some("invalid_file_format"));
        }
    };
    let latency = millis(sim.knobs().base_latency_ms);
    tokio::time::sleep(latency).await;

    let segments = segments(duration);
    let text = segments
        .iter()
        .filter_map(|s| s["text"].as_str())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    match format.as_str() {
        "text" => text.into_response(),
        "json" => Json(json!({"text": text})).into_response(),
        "verbose_json" => Json(json!({
            "task": "transcribe",
            "language": "english",
            "duration": duration,
            "text": text,
            "segments": segments,
            "usage": {"type": "duration", "seconds": duration.ceil()},
        }))
        .into_response(),
        other => invalid(&format!("response_format {other:?} is not simulated"), None),
    }
}

fn invalid(message: &str, code: Option<&str>) -> Response {
    api_error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        code,
        message,
    )
}

/// The uploaded file and `response_format` (OpenAI's default is `json`).
async fn read_form(mut form: Multipart) -> Result<(Vec<u8>, String), String> {
    let (mut file, mut format) = (None, "json".to_owned());
    while let Some(field) = form.next_field().await.map_err(|e| e.to_string())? {
        match field.name() {
            Some("file") => file = Some(field.bytes().await.map_err(|e| e.to_string())?.to_vec()),
            Some("response_format") => format = field.text().await.map_err(|e| e.to_string())?,
            _ => {}
        }
    }
    Ok((file.ok_or("the form has no file field")?, format))
}

fn segments(duration: f64) -> Vec<serde_json::Value> {
    let count = (duration / SEGMENT_SECS).ceil() as usize;
    (0..count)
        .map(|i| {
            let start = i as f64 * SEGMENT_SECS;
            json!({
                "id": i,
                "seek": (start * 100.0) as u64,
                "start": start,
                "end": (start + SEGMENT_SECS).min(duration),
                "text": format!(" {}", SCRIPT[i % SCRIPT.len()]),
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": -0.2,
                "compression_ratio": 1.3,
                "no_speech_prob": 0.01,
            })
        })
        .collect()
}

/// Seconds of audio in a RIFF/WAVE file: the `data` chunk's size over `fmt `'s byte rate.
pub fn wav_duration(bytes: &[u8]) -> Result<f64, String> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("not a RIFF/WAVE file".into());
    }
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let (mut at, mut byte_rate) = (12usize, None);
    while let (Some(id), Some(size)) = (bytes.get(at..at + 4), u32_at(at + 4)) {
        let body = at + 8;
        match id {
            b"fmt " => byte_rate = Some(u32_at(body + 8).ok_or("truncated fmt chunk")?),
            b"data" => {
                let rate = byte_rate
                    .filter(|r| *r > 0)
                    .ok_or("no usable fmt chunk before data")?;
                // Streaming writers leave the size at 0xFFFFFFFF; the rest of the file is data.
                let size = (size as usize).min(bytes.len() - body);
                return Ok(size as f64 / f64::from(rate));
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        at = body
            .saturating_add(size as usize)
            .saturating_add(size as usize & 1);
    }
    Err("no data chunk".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(seconds: u32, rate: u32) -> Vec<u8> {
        let data_len = seconds * rate * 2;
        let mut w = b"RIFF".to_vec();
        w.extend((36 + data_len).to_le_bytes());
        w.extend(b"WAVEfmt ");
        w.extend(16u32.to_le_bytes());
        w.extend(1u16.to_le_bytes()); // PCM
        w.extend(1u16.to_le_bytes()); // mono
        w.extend(rate.to_le_bytes());
        w.extend((rate * 2).to_le_bytes());
        w.extend(2u16.to_le_bytes());
        w.extend(16u16.to_le_bytes());
        w.extend(b"data");
        w.extend(data_len.to_le_bytes());
        w.resize(w.len() + data_len as usize, 0);
        w
    }

    #[test]
    fn duration_comes_from_the_header_and_segments_cover_it() {
        let duration = wav_duration(&wav(12, 16_000)).unwrap();
        assert!((duration - 12.0).abs() < 1e-9);
        let segments = segments(duration);
        assert_eq!(segments.len(), 3);
        assert_eq!(segments[2]["end"], 12.0);
    }

    #[test]
    fn other_files_are_refused() {
        assert!(wav_duration(b"ID3\x04 an mp3").is_err());
        assert!(wav_duration(&wav(1, 8000)[..40]).is_err());
    }
}
