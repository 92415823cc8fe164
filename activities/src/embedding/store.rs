//! The `passages` table: reading the transcript it is cut from, writing passages with their
//! vectors, and (re-exported from `mediadocs-retrieval`) finding the nearest ones to a query
//! vector.
//!
//! Every function takes a transaction begun with `mediadocs_store::tenancy::begin`, so
//! row-level security confines it to one org.

use pgvector::Vector;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::passages::{Passage, Segment};

/// The recording's transcript segments in order, or `None` when the recording or its
/// transcript is gone (or belongs to another org).
pub async fn transcript(
    tx: &mut Transaction<'_, Postgres>,
    recording: Uuid,
) -> sqlx::Result<Option<Vec<Segment>>> {
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM transcripts t JOIN recordings r ON r.id = t.recording_id
                        WHERE t.recording_id = $1 AND r.status <> 'deleted')",
    )
    .bind(recording)
    .fetch_one(&mut **tx)
    .await?;
    if !exists {
        return Ok(None);
    }
    let rows: Vec<(i32, i64, i64, String, Option<String>)> = sqlx::query_as(
        "SELECT idx, start_ms, end_ms, text, speaker FROM transcript_segments
         WHERE recording_id = $1 ORDER BY idx",
    )
    .bind(recording)
    .fetch_all(&mut **tx)
    .await?;
    Ok(Some(
        rows.into_iter()
            .map(|(idx, start_ms, end_ms, text, speaker)| Segment {
                idx,
                start_ms,
                end_ms,
                text,
                speaker,
            })
            .collect(),
    ))
}

/// Which recording and model the passages belong to.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    pub org: Uuid,
    pub recording: Uuid,
    pub model: &'a str,
}

/// Inserts or rewrites `passages` (one vector each, in order) by (recording, model, idx), so
/// a repeated batch keeps its rows and their ids.
pub async fn upsert(
    tx: &mut Transaction<'_, Postgres>,
    owner: Owner<'_>,
    passages: &[Passage],
    vectors: Vec<Vec<f32>>,
) -> sqlx::Result<()> {
    let dimension = vectors.first().map_or(0, Vec::len) as i32;
    let ints = |f: fn(&Passage) -> i32| -> Vec<i32> { passages.iter().map(f).collect() };
    let longs = |f: fn(&Passage) -> i64| -> Vec<i64> { passages.iter().map(f).collect() };
    sqlx::query(
        "INSERT INTO passages (org_id, recording_id, model, dimension, idx, first_segment,
                               last_segment, start_ms, end_ms, text, tokens, embedding)
         SELECT $1, $2, $3, $4, * FROM UNNEST($5::int[], $6::int[], $7::int[], $8::bigint[],
                                              $9::bigint[], $10::text[], $11::int[], $12::vector[])
         ON CONFLICT (recording_id, model, idx) DO UPDATE SET
             dimension = EXCLUDED.dimension, first_segment = EXCLUDED.first_segment,
             last_segment = EXCLUDED.last_segment, start_ms = EXCLUDED.start_ms,
             end_ms = EXCLUDED.end_ms, text = EXCLUDED.text, tokens = EXCLUDED.tokens,
             embedding = EXCLUDED.embedding, updated_at = now()",
    )
    .bind(owner.org)
    .bind(owner.recording)
    .bind(owner.model)
    .bind(dimension)
    .bind(ints(|p| p.idx as i32))
    .bind(ints(|p| p.first_segment))
    .bind(ints(|p| p.last_segment))
    .bind(longs(|p| p.start_ms))
    .bind(longs(|p| p.end_ms))
    .bind(passages.iter().map(|p| p.text.clone()).collect::<Vec<_>>())
    .bind(ints(|p| p.tokens as i32))
    .bind(vectors.into_iter().map(Vector::from).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes the recording's passages of `owner.model` from index `count` on: what an earlier,
/// longer transcript left. Returns how many went.
pub async fn delete_beyond(
    tx: &mut Transaction<'_, Postgres>,
    owner: Owner<'_>,
    count: usize,
) -> sqlx::Result<u64> {
    let done =
        sqlx::query("DELETE FROM passages WHERE recording_id = $1 AND model = $2 AND idx >= $3")
            .bind(owner.recording)
            .bind(owner.model)
            .bind(count as i32)
            .execute(&mut **tx)
            .await?;
    Ok(done.rows_affected())
}

// Nearest-neighbour search lives in `mediadocs-retrieval`, which the API shares; these
// names stay here for the tests that embed and then search.
pub use mediadocs_retrieval::vector::{Hit, explain_nearest, nearest, nearest_sql};
