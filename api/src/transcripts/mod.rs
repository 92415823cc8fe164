//! A recording's transcript for readers and players: its timed segments as JSON (paged) or
//! as SubRip, WebVTT and plain text; and the names its speaker labels are shown with.

pub mod read;
pub mod speakers;

use std::collections::BTreeMap;

use sqlx::{Postgres, Transaction};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{AppState, error::ApiError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(read::transcript))
        .routes(routes!(speakers::rename))
}

/// The transcript's header row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Header {
    pub recording_id: Uuid,
    pub provider: String,
    pub language: Option<String>,
    pub duration_ms: Option<i64>,
    pub segment_count: i32,
    pub speaker_names: sqlx::types::Json<BTreeMap<String, String>>,
    /// The recording's, for file names.
    #[sqlx(skip)]
    pub title: String,
}

impl Header {
    /// The label as people named it, or the label itself.
    pub fn display(&self, label: &str) -> String {
        self.speaker_names
            .get(label)
            .cloned()
            .unwrap_or_else(|| label.to_owned())
    }
}

/// The transcript of a recording the caller's org can see: 404 for another org's (or no)
/// recording, 409 with the recording's status while it has no transcript yet.
pub async fn header(
    tx: &mut Transaction<'static, Postgres>,
    recording: Uuid,
    lock: bool,
) -> Result<Header, ApiError> {
    let (status, title): (String, String) =
        sqlx::query_as("SELECT status, title FROM recordings WHERE id = $1")
            .bind(recording)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(ApiError::NotFound)?;
    let sql = if lock {
        "SELECT recording_id, provider, language, duration_ms, segment_count, speaker_names
         FROM transcripts WHERE recording_id = $1 FOR UPDATE"
    } else {
        "SELECT recording_id, provider, language, duration_ms, segment_count, speaker_names
         FROM transcripts WHERE recording_id = $1"
    };
    let found: Option<Header> = sqlx::query_as(sql)
        .bind(recording)
        .fetch_optional(&mut **tx)
        .await?;
    let mut head = found.ok_or_else(|| ApiError::NotReady {
        detail: format!("the transcript is not ready: the recording is {status}"),
        recording_status: status,
    })?;
    head.title = title;
    Ok(head)
}

/// The transcript's speaker labels, in order of first appearance.
pub async fn labels(
    tx: &mut Transaction<'static, Postgres>,
    recording: Uuid,
) -> Result<Vec<String>, ApiError> {
    Ok(sqlx::query_scalar(
        "SELECT speaker FROM transcript_segments WHERE recording_id = $1 AND speaker IS NOT NULL
         GROUP BY speaker ORDER BY min(idx)",
    )
    .bind(recording)
    .fetch_all(&mut **tx)
    .await?)
}
