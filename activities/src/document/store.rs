//! The document stage's queries. Each runs inside a transaction scoped to the recording's
//! org; none is held open across an LLM call.

use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{
    DocumentError,
    chunking::{self, Segment},
    prompts::Template,
};

type Tx = Transaction<'static, Postgres>;

pub(super) struct StoredTranscript {
    pub segments: Vec<Segment>,
    pub duration_ms: i64,
}

/// Fails with `RecordingGone` unless the recording exists and is not deleted.
pub(super) async fn require_recording(tx: &mut Tx, recording: Uuid) -> Result<(), DocumentError> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM recordings WHERE id = $1")
        .bind(recording)
        .fetch_optional(&mut **tx)
        .await?;
    match status.as_deref() {
        None | Some("deleted") => Err(DocumentError::RecordingGone(recording.to_string())),
        Some(_) => Ok(()),
    }
}

pub(super) async fn transcript(
    tx: &mut Tx,
    recording: Uuid,
) -> Result<StoredTranscript, DocumentError> {
    let rows: Vec<(i64, i64, String, Option<String>)> = sqlx::query_as(
        // Speakers as people named them (`transcripts.speaker_names`), else their labels.
        "SELECT s.start_ms, s.end_ms, s.text, COALESCE(t.speaker_names ->> s.speaker, s.speaker)
         FROM transcript_segments s JOIN transcripts t ON t.recording_id = s.recording_id
         WHERE s.recording_id = $1 ORDER BY s.idx",
    )
    .bind(recording)
    .fetch_all(&mut **tx)
    .await?;
    let duration: Option<Option<i64>> =
        sqlx::query_scalar("SELECT duration_ms FROM transcripts WHERE recording_id = $1")
            .bind(recording)
            .fetch_optional(&mut **tx)
            .await?;
    let segments: Vec<Segment> = rows
        .into_iter()
        .filter(|(_, _, text, _)| !text.trim().is_empty())
        .map(|(start_ms, end_ms, text, speaker)| Segment {
            start_ms,
            end_ms,
            text,
            speaker,
        })
        .collect();
    let (Some(duration), false) = (duration, segments.is_empty()) else {
        return Err(DocumentError::TranscriptMissing(recording.to_string()));
    };
    let last_end = segments.iter().map(|s| s.end_ms).max().unwrap_or(0);
    Ok(StoredTranscript {
        duration_ms: duration.unwrap_or(0).max(last_end),
        segments,
    })
}

/// Cuts the recording's transcript into chunks of at most `chunk_tokens` and keeps them,
/// replacing any earlier cut. Returns how many there are, and the transcript's duration.
pub(super) async fn cut_chunks(
    tx: &mut Tx,
    org: Uuid,
    recording: Uuid,
    chunk_tokens: u32,
) -> Result<(u32, i64), DocumentError> {
    let transcript = transcript(tx, recording).await?;
    let chunks = chunking::chunk(&transcript.segments, chunk_tokens);
    sqlx::query("DELETE FROM document_chunks WHERE recording_id = $1")
        .bind(recording)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO document_chunks (recording_id, org_id, idx, job_id, chunk_tokens, start_ms, end_ms, text, tokens)
         SELECT $1, $2, c.idx, t.job_id, $3, c.start_ms, c.end_ms, c.text, c.tokens
         FROM UNNEST($4::int[], $5::bigint[], $6::bigint[], $7::text[], $8::int[])
              AS c(idx, start_ms, end_ms, text, tokens),
              transcripts t
         WHERE t.recording_id = $1",
    )
    .bind(recording)
    .bind(org)
    .bind(chunk_tokens as i32)
    .bind(chunks.iter().map(|c| c.idx as i32).collect::<Vec<_>>())
    .bind(chunks.iter().map(|c| c.start_ms).collect::<Vec<_>>())
    .bind(chunks.iter().map(|c| c.end_ms).collect::<Vec<_>>())
    .bind(chunks.iter().map(|c| c.text.clone()).collect::<Vec<_>>())
    .bind(chunks.iter().map(|c| c.tokens as i32).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok((chunks.len() as u32, transcript.duration_ms))
}

/// Chunk `idx` of the cut made for `chunk_tokens` from the current transcript, and how many
/// chunks that cut has; `None` when there is no such cut (or no such chunk).
pub(super) async fn planned_chunk(
    tx: &mut Tx,
    recording: Uuid,
    chunk_tokens: u32,
    idx: u32,
) -> sqlx::Result<Option<(chunking::Chunk, u32)>> {
    let row: Option<(i64, i64, String, i32, i64)> = sqlx::query_as(
        "SELECT c.start_ms, c.end_ms, c.text, c.tokens,
                (SELECT count(*) FROM document_chunks WHERE recording_id = $1)
         FROM document_chunks c JOIN transcripts t ON t.recording_id = c.recording_id
         WHERE c.recording_id = $1 AND c.idx = $3 AND c.chunk_tokens = $2 AND c.job_id = t.job_id",
    )
    .bind(recording)
    .bind(chunk_tokens as i32)
    .bind(idx as i32)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|(start_ms, end_ms, text, tokens, total)| {
        let chunk = chunking::Chunk {
            idx,
            start_ms,
            end_ms,
            text,
            tokens: tokens as u32,
        };
        (chunk, total as u32)
    }))
}

/// The template to write with: the run's own, else the recording's, else the org's
/// default, else the built-in meeting notes. A deleted template falls through (its
/// references are set NULL).
pub(super) async fn template(
    tx: &mut Tx,
    org: Uuid,
    recording: Uuid,
    explicit: Option<Uuid>,
) -> sqlx::Result<Template> {
    let (id, name, instructions, sections): (Uuid, String, String, Vec<String>) = sqlx::query_as(
        "SELECT id, name, instructions, sections FROM templates
         WHERE id = COALESCE(
             (SELECT id FROM templates WHERE id = $1),
             (SELECT template_id FROM recordings WHERE id = $2),
             (SELECT id FROM templates WHERE org_id = $3 AND is_default),
             $4)",
    )
    .bind(explicit)
    .bind(recording)
    .bind(org)
    .bind(mediadocs_store::templates::MEETING_NOTES)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Template {
        id,
        name,
        instructions,
        sections,
    })
}

/// A summary row (`document_summaries`).
pub(super) struct Summary {
    pub level: i32,
    pub idx: i32,
    pub text: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub source_hash: String,
    pub model: String,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
}

type SummaryRow = (i32, i32, String, i64, i64, String, String, i32, i32);

fn summary(
    (level, idx, text, start_ms, end_ms, source_hash, model, prompt_tokens, completion_tokens): SummaryRow,
) -> Summary {
    Summary {
        level,
        idx,
        text,
        start_ms,
        end_ms,
        source_hash,
        model,
        prompt_tokens,
        completion_tokens,
    }
}

/// Summaries `[from, to)` of `level`, in order.
pub(super) async fn summaries(
    tx: &mut Tx,
    recording: Uuid,
    level: i32,
    from: i32,
    to: i32,
) -> sqlx::Result<Vec<Summary>> {
    let rows: Vec<SummaryRow> = sqlx::query_as(
        "SELECT level, idx, text, start_ms, end_ms, source_hash, model, prompt_tokens, completion_tokens
         FROM document_summaries
         WHERE recording_id = $1 AND level = $2 AND idx >= $3 AND idx < $4 ORDER BY idx",
    )
    .bind(recording)
    .bind(level)
    .bind(from)
    .bind(to)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(summary).collect())
}

/// Inserts or replaces the summary at its (recording, level, idx).
pub(super) async fn upsert_summary(
    tx: &mut Tx,
    org: Uuid,
    recording: Uuid,
    s: &Summary,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO document_summaries (recording_id, org_id, level, idx, text, start_ms, end_ms,
             source_hash, model, prompt_tokens, completion_tokens)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (recording_id, level, idx) DO UPDATE SET
             text = EXCLUDED.text, start_ms = EXCLUDED.start_ms, end_ms = EXCLUDED.end_ms,
             source_hash = EXCLUDED.source_hash, model = EXCLUDED.model,
             prompt_tokens = EXCLUDED.prompt_tokens,
             completion_tokens = EXCLUDED.completion_tokens, created_at = now()",
    )
    .bind(recording)
    .bind(org)
    .bind(s.level)
    .bind(s.idx)
    .bind(&s.text)
    .bind(s.start_ms)
    .bind(s.end_ms)
    .bind(&s.source_hash)
    .bind(&s.model)
    .bind(s.prompt_tokens)
    .bind(s.completion_tokens)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Level-0 summaries beyond the transcript's chunks, left by an earlier, longer transcript.
pub(super) async fn drop_stale_chunks(
    tx: &mut Tx,
    recording: Uuid,
    chunks: i32,
) -> sqlx::Result<()> {
    sqlx::query(
        "DELETE FROM document_summaries WHERE recording_id = $1 AND level = 0 AND idx >= $2",
    )
    .bind(recording)
    .bind(chunks)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Tokens of every summary stored for the recording: the map and reduce passes' cost.
pub(super) async fn summary_usage(tx: &mut Tx, recording: Uuid) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT COALESCE(SUM(prompt_tokens), 0)::bigint, COALESCE(SUM(completion_tokens), 0)::bigint
         FROM document_summaries WHERE recording_id = $1",
    )
    .bind(recording)
    .fetch_one(&mut **tx)
    .await
}

/// (id, title) of version 1 of the recording's document.
pub(super) async fn first_version(
    tx: &mut Tx,
    recording: Uuid,
) -> sqlx::Result<Option<(Uuid, String)>> {
    sqlx::query_as(
        "SELECT d.id, v.title FROM documents d
         JOIN document_versions v ON v.document_id = d.id AND v.version = 1
         WHERE d.recording_id = $1",
    )
    .bind(recording)
    .fetch_optional(&mut **tx)
    .await
}
