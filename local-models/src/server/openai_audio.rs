//! `POST /v1/audio/transcriptions`, as OpenAI documents it: multipart with `file` and
//! `model`, optional `language`, `prompt` and `response_format` (`json`, `text` or
//! `verbose_json` with segment timestamps).

use std::sync::Arc;

use axum::{
    Json,
    extract::{Multipart, State},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{
    AppState,
    audio_input::{AudioError, Spool},
    error::ApiError,
    languages,
    transcribe::{self, Cancel, CancelOnDrop, Failure},
};
use crate::whisper::{TranscribeError, TranscribeOptions, Transcript};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Text,
    VerboseJson,
}

pub async fn transcriptions(
    State(state): State<Arc<AppState>>,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    let Some(whisper) = state.models.whisper.clone() else {
        return Err(ApiError::unknown_model("whisper"));
    };
    let mut file = None;
    let mut model = None;
    let mut options = TranscribeOptions::default();
    let mut format = Format::Json;
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(format!("malformed multipart body: {e}")))?
    {
        match field.name().unwrap_or_default() {
            "file" => {
                let mut spool = Spool::new(state.limits.max_audio_bytes).map_err(audio_error)?;
                while let Some(piece) = field
                    .chunk()
                    .await
                    .map_err(|e| ApiError::bad_request(format!("reading the file: {e}")))?
                {
                    spool.write(&piece).map_err(audio_error)?;
                }
                file = Some(spool.finish().map_err(audio_error)?);
            }
            name => {
                let name = name.to_owned();
                let value = field
                    .text()
                    .await
                    .map_err(|e| ApiError::bad_request(format!("reading `{name}`: {e}")))?;
                match name.as_str() {
                    "model" => model = Some(value),
                    "language" if !value.trim().is_empty() => {
                        options.language = Some(languages::code(&value)?)
                    }
                    "prompt" => options.prompt = Some(value),
                    "response_format" => format = parse_format(&value)?,
                    // Greedy decoding; segment timestamps are always produced.
                    "temperature" | "timestamp_granularities[]" | "timestamp_granularities" => {}
                    _ => {}
                }
            }
        }
    }
    let file = file.ok_or_else(|| ApiError::invalid("file", "the `file` field is required"))?;
    let model = model.ok_or_else(|| ApiError::invalid("model", "the `model` field is required"))?;
    if !state.serves_whisper(&model) {
        return Err(ApiError::unknown_model(&model));
    }
    if let Some(language) = &options.language
        && !whisper.is_multilingual()
        && language != "en"
    {
        return Err(ApiError::invalid(
            "language",
            format!("{} transcribes English only", whisper.name()),
        ));
    }
    let ticket = state
        .transcriptions
        .admit()
        .map_err(|full| ApiError::busy("transcription", full.retry_after))?;
    let cancel = Cancel::default();
    let _guard = CancelOnDrop(cancel.clone());
    let work = transcribe::run(&state, &ticket, file, options, cancel);
    let transcript = tokio::time::timeout(state.limits.request_timeout, work)
        .await
        .map_err(|_| ApiError::timeout(state.limits.request_timeout))?
        .map_err(failure)?;
    Ok(respond(format, transcript))
}

fn parse_format(value: &str) -> Result<Format, ApiError> {
    match value {
        "json" => Ok(Format::Json),
        "text" => Ok(Format::Text),
        "verbose_json" => Ok(Format::VerboseJson),
        other => Err(ApiError::invalid(
            "response_format",
            format!("response_format `{other}` is not served here (json, text or verbose_json)"),
        )),
    }
}

fn text_of(t: &Transcript) -> String {
    t.segments
        .iter()
        .map(|s| s.text.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn respond(format: Format, t: Transcript) -> Response {
    let text = text_of(&t);
    match format {
        Format::Text => text.into_response(),
        Format::Json => Json(json!({ "text": text })).into_response(),
        Format::VerboseJson => Json(json!({
            "task": "transcribe",
            "language": languages::name(&t.language),
            "duration": t.duration,
            "text": text,
            "segments": t.segments,
        }))
        .into_response(),
    }
}

pub fn audio_error(e: AudioError) -> ApiError {
    match e {
        AudioError::TooLarge { .. } | AudioError::TooLong { .. } => {
            ApiError::too_large(e.to_string())
        }
        e if e.is_input() => ApiError::invalid("file", e.to_string()),
        e => ApiError::internal(e.to_string()),
    }
}

fn failure(e: Failure) -> ApiError {
    match e {
        Failure::Audio(e) => audio_error(e),
        Failure::Model(TranscribeError::UnsupportedLanguage(l)) => ApiError::invalid(
            "language",
            format!("language `{l}` is not supported by this model"),
        ),
        Failure::Model(e) => ApiError::internal(e.to_string()),
        Failure::Task(e) => ApiError::internal(e),
    }
}
