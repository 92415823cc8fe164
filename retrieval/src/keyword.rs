//! Full-text search over `passages.tsv` (English configuration).
//!
//! The question is parsed with `websearch_to_tsquery`, so quoted phrases and codes such as
//! `OPS-1234` keep their structure, and then its terms are OR-ed: a question in full
//! sentences almost never has every one of its words in one passage, and `ts_rank_cd` already
//! ranks passages that match more of them (and closer together) higher.

use sqlx::{Postgres, Transaction};
use uuid::Uuid;

/// A passage matching some of the question's terms, best first.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct KeywordHit {
    pub id: i64,
    pub recording_id: Uuid,
    pub idx: i32,
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
    /// `ts_rank_cd`, higher is better; comparable only within one query.
    pub rank: f64,
    /// The share of the question's distinct terms (stemmed, stop words dropped) that the
    /// passage contains, from 0 to 1: how much of the question a match covers.
    pub coverage: f64,
}

/// Binds: `$1` the question, `$2` the model, `$3` k, `$4` the recordings (`uuid[]`, NULL for
/// all of the org's). A question of stop words only has no terms, and matches nothing.
/// Negation (`-word`) is dropped with the AND: in an OR it would match nearly everything.
pub const KEYWORD_SQL: &str = "
    WITH q AS (
        SELECT nullif(replace(replace(websearch_to_tsquery('english', $1)::text, ' & ', ' | '),
                              '!', ''), '')::tsquery AS query,
               tsvector_to_array(to_tsvector('english', $1)) AS terms)
    SELECT p.id, p.recording_id, p.idx, p.start_ms, p.end_ms, p.text,
           ts_rank_cd(p.tsv, q.query)::float8 AS rank,
           (SELECT count(*) FROM unnest(q.terms) t WHERE t = ANY (tsvector_to_array(p.tsv)))::float8
               / greatest(cardinality(q.terms), 1) AS coverage
    FROM passages p, q
    WHERE p.model = $2 AND p.tsv @@ q.query
      AND ($4::uuid[] IS NULL OR p.recording_id = ANY($4))
    ORDER BY rank DESC, p.id
    LIMIT $3";

/// The `k` passages of `model` that best match `question`'s terms, in the transaction's
/// org, optionally only of `recordings`.
pub async fn matching(
    tx: &mut Transaction<'_, Postgres>,
    model: &str,
    question: &str,
    k: u32,
    recordings: Option<&[Uuid]>,
) -> sqlx::Result<Vec<KeywordHit>> {
    sqlx::query_as::<_, KeywordHit>(KEYWORD_SQL)
        .bind(question)
        .bind(model)
        .bind(i64::from(k))
        .bind(recordings)
        .fetch_all(&mut **tx)
        .await
}
