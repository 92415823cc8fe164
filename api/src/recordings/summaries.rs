//! What was made from recordings, summed up for their listings: the document (current
//! version, title, status) and the transcript (language, length, speakers). Read for a whole
//! page at once, in two queries, so listing costs the same however many rows it shows.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Postgres, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentSummary {
    pub id: Uuid,
    /// The current version; `null` when no generation has succeeded yet.
    pub version: Option<i32>,
    pub title: Option<String>,
    /// `draft`, `published`, or `failed` (no version could be written; see `status_reason`).
    pub status: String,
    pub status_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TranscriptSummary {
    pub language: Option<String>,
    pub duration_ms: Option<i64>,
    pub segment_count: i32,
    /// Distinct speaker labels, in order of first appearance.
    pub speakers: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Made {
    pub document: Option<DocumentSummary>,
    pub transcript: Option<TranscriptSummary>,
}

#[derive(sqlx::FromRow)]
struct DocumentRow {
    recording_id: Uuid,
    id: Uuid,
    version: Option<i32>,
    title: Option<String>,
    status: String,
    status_reason: Option<String>,
    updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct TranscriptRow {
    recording_id: Uuid,
    language: Option<String>,
    duration_ms: Option<i64>,
    segment_count: i32,
    speakers: Vec<String>,
}

/// The summaries of `recordings`, by recording ID; missing ones have nothing made yet.
pub async fn load(
    tx: &mut Transaction<'static, Postgres>,
    recordings: &[Uuid],
) -> Result<HashMap<Uuid, Made>, ApiError> {
    let documents: Vec<DocumentRow> = sqlx::query_as(
        "SELECT d.recording_id, d.id, d.current_version AS version, v.title, d.status,
                d.status_reason, d.updated_at
         FROM documents d
         LEFT JOIN document_versions v ON v.document_id = d.id AND v.version = d.current_version
         WHERE d.recording_id = ANY($1)",
    )
    .bind(recordings)
    .fetch_all(&mut **tx)
    .await?;
    // Speakers in order of first appearance; names given to them are the transcript's to show.
    let transcripts: Vec<TranscriptRow> = sqlx::query_as(
        "SELECT t.recording_id, t.language, t.duration_ms, t.segment_count,
                ARRAY(SELECT s.speaker FROM transcript_segments s
                      WHERE s.recording_id = t.recording_id AND s.speaker IS NOT NULL
                      GROUP BY s.speaker ORDER BY min(s.idx)) AS speakers
         FROM transcripts t WHERE t.recording_id = ANY($1)",
    )
    .bind(recordings)
    .fetch_all(&mut **tx)
    .await?;
    let mut made: HashMap<Uuid, Made> = HashMap::new();
    for d in documents {
        made.entry(d.recording_id).or_default().document = Some(DocumentSummary {
            id: d.id,
            version: d.version,
            title: d.title,
            status: d.status,
            status_reason: d.status_reason,
            updated_at: d.updated_at,
        });
    }
    for t in transcripts {
        made.entry(t.recording_id).or_default().transcript = Some(TranscriptSummary {
            language: t.language,
            duration_ms: t.duration_ms,
            segment_count: t.segment_count,
            speakers: t.speakers,
        });
    }
    Ok(made)
}
