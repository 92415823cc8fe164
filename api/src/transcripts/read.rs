//! `GET /api/recordings/{id}/transcript`: segments as JSON, a page at a time, or the whole
//! transcript as SRT, WebVTT or text.

use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use mediadocs_exports::{Cue, subtitles};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Header, header, labels};
use crate::download::file;
use crate::{
    AppState,
    auth::Principal,
    error::{ApiError, FieldError},
    extract::{ApiPath, ApiQuery},
};

pub const DEFAULT_PAGE: i64 = 500;
pub const MAX_PAGE: i64 = 2000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TranscriptQuery {
    /// `json` (default, paged), `srt`, `vtt` or `txt` (whole transcript).
    pub format: Option<String>,
    /// JSON only: from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// JSON only: segments per page, 1 to 2000, default 500.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Segment {
    pub idx: i32,
    pub start_ms: i64,
    pub end_ms: i64,
    /// The speaker's name if one was given, else the provider's label.
    pub speaker: Option<String>,
    /// The provider's label (`A`, `B`, …), which the speakers route renames.
    pub speaker_label: Option<String>,
    pub text: String,
    pub confidence: Option<f32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Speaker {
    pub label: String,
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Transcript {
    pub recording_id: Uuid,
    pub language: Option<String>,
    pub duration_ms: Option<i64>,
    pub segment_count: i32,
    pub provider: String,
    pub speakers: Vec<Speaker>,
    pub segments: Vec<Segment>,
    /// Absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    idx: i32,
    start_ms: i64,
    end_ms: i64,
    speaker: Option<String>,
    text: String,
    confidence: Option<f32>,
}

enum Format {
    Json,
    Srt,
    Vtt,
    Txt,
}

fn format(raw: Option<&str>) -> Result<Format, ApiError> {
    match raw.unwrap_or("json") {
        "json" => Ok(Format::Json),
        "srt" => Ok(Format::Srt),
        "vtt" => Ok(Format::Vtt),
        "txt" => Ok(Format::Txt),
        _ => Err(ApiError::Validation(vec![FieldError::new(
            "format",
            "must be one of json, srt, vtt, txt",
        )])),
    }
}

/// The recording's transcript.
#[utoipa::path(get, path = "/api/recordings/{id}/transcript", tag = "transcripts", security(("bearer" = [])),
    params(("id" = Uuid, Path), TranscriptQuery),
    responses(
        (status = 200, body = Transcript, example = json!({"recording_id": "0193…", "language": "en",
            "duration_ms": 95000, "segment_count": 2, "provider": "assemblyai",
            "speakers": [{"label": "A", "name": "Alice"}],
            "segments": [{"idx": 0, "start_ms": 0, "end_ms": 4200, "speaker": "Alice", "speaker_label": "A",
                "text": "Welcome to the planning call.", "confidence": 0.93}],
            "next_cursor": null})),
        (status = 200, description = "`format=srt|vtt|txt`: the whole transcript as a file",
            content_type = "text/plain"),
        (status = 404, body = crate::error::Problem),
        (status = 409, description = "No transcript yet; `recording_status` says where the recording is",
            body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all, fields(recording_id = %id))]
pub async fn transcript(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<TranscriptQuery>,
) -> Result<Response, ApiError> {
    let format = format(query.format.as_deref())?;
    let (after, limit) = match format {
        Format::Json => page_request(query.cursor.as_deref(), query.limit)?,
        _ => (-1, i64::MAX),
    };
    let mut tx = principal.begin(&state).await?;
    let head = header(&mut tx, id, false).await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT idx, start_ms, end_ms, speaker, text, confidence FROM transcript_segments
         WHERE recording_id = $1 AND idx > $2 ORDER BY idx LIMIT $3",
    )
    .bind(id)
    .bind(after)
    .bind(limit.saturating_add(1))
    .fetch_all(&mut *tx)
    .await?;
    // Only a JSON page lists the speakers; a file names them in its lines.
    let speakers = match format {
        Format::Json => labels(&mut tx, id).await?,
        _ => Vec::new(),
    };
    tx.commit().await?;
    let title = head.title.clone();
    match format {
        Format::Json => Ok(Json(json(head, speakers, rows, limit)).into_response()),
        Format::Srt => Ok(file(
            subtitles::srt(&cues(&head, rows)),
            "application/x-subrip; charset=utf-8",
            &title,
            "srt",
        )),
        Format::Vtt => Ok(file(
            subtitles::vtt(&cues(&head, rows)),
            "text/vtt; charset=utf-8",
            &title,
            "vtt",
        )),
        Format::Txt => Ok(file(
            subtitles::txt(&cues(&head, rows)),
            "text/plain; charset=utf-8",
            &title,
            "txt",
        )),
    }
}

/// The cursor is the last index of the previous page, opaque to clients.
fn page_request(cursor: Option<&str>, limit: Option<i64>) -> Result<(i64, i64), ApiError> {
    let mut errors = Vec::new();
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    let after = match cursor.filter(|c| !c.is_empty()) {
        None => -1,
        Some(c) => match c.strip_prefix("s").and_then(|n| n.parse::<i64>().ok()) {
            Some(n) if n >= 0 => n,
            _ => {
                errors.push(FieldError::new("cursor", "is not a cursor this API issued"));
                -1
            }
        },
    };
    crate::auth::validate::finish(errors)?;
    Ok((after, limit))
}

fn json(head: Header, labels: Vec<String>, mut rows: Vec<Row>, limit: i64) -> Transcript {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|r| format!("s{}", r.idx)))
        .flatten();
    let segments = rows
        .into_iter()
        .map(|r| Segment {
            idx: r.idx,
            start_ms: r.start_ms,
            end_ms: r.end_ms,
            speaker: r.speaker.as_deref().map(|l| head.display(l)),
            speaker_label: r.speaker,
            text: r.text,
            confidence: r.confidence,
        })
        .collect();
    let speakers = labels
        .into_iter()
        .map(|label| Speaker {
            name: head.speaker_names.get(&label).cloned(),
            label,
        })
        .collect();
    Transcript {
        recording_id: head.recording_id,
        language: head.language,
        duration_ms: head.duration_ms,
        segment_count: head.segment_count,
        provider: head.provider,
        speakers,
        segments,
        next_cursor,
    }
}

fn cues(head: &Header, rows: Vec<Row>) -> Vec<Cue> {
    rows.into_iter()
        .map(|r| Cue {
            start_ms: r.start_ms.max(0) as u64,
            end_ms: r.end_ms.max(0) as u64,
            speaker: r.speaker.as_deref().map(|l| head.display(l)),
            text: r.text,
        })
        .collect()
}
