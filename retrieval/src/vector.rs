//! Nearest passages to a query vector: pgvector cosine distance over the model's HNSW index.

use pgvector::Vector;
use sqlx::{AssertSqlSafe, Postgres, Transaction};
use uuid::Uuid;

/// A passage found by [`nearest`], closest first.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Hit {
    pub id: i64,
    pub recording_id: Uuid,
    pub idx: i32,
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
    /// Cosine distance: 0 is the same direction, 2 the opposite.
    pub distance: f64,
}

/// How [`nearest_with`] finds the neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The model's HNSW index, walking `ef_search` candidates at a time (iterative scans
    /// continue past filtered-out rows).
    Index { ef_search: u32 },
    /// Every passage in scope, compared with the query: exact, and cheaper than the index
    /// when the scope is small, because a small org's rows are a sliver of the index and an
    /// iterative scan wades through everyone else's to find them.
    Exact,
}

/// Candidates per HNSW step. pgvector's default of 40 gave recall@10 of 0.94 for a large org
/// at a million passages (see the chat benchmark); 100 costs a few milliseconds more.
pub const EF_SEARCH: u32 = 100;

/// Scopes with fewer passages than this are searched exactly (see [`Strategy::Exact`]).
pub const EXACT_BELOW: i64 = 20_000;

/// The SQL [`nearest`] runs, public so that a test or a bench can EXPLAIN exactly that.
///
/// For the index it repeats the per-model HNSW index's expression (`embedding::vector(<dim>)`)
/// and predicate (`model = '<model>'`, a literal: a generic plan cannot match a partial index
/// on a parameter), or PostgreSQL falls back to computing every distance; the exact search
/// orders by `embedding <=> $1` instead, which no index matches. Binds: `$1` the query
/// vector, `$2` k, and with `by_recording`, `$3` the recordings (`uuid[]`). The HNSW scan is
/// ordered only approximately under `relaxed_order`, so the outer query sorts the k hits
/// exactly.
pub fn nearest_sql(model: &str, dimension: usize, by_recording: bool) -> String {
    strategy_sql(model, dimension, by_recording, false)
}

fn strategy_sql(model: &str, dimension: usize, by_recording: bool, exact: bool) -> String {
    let model = model.replace('\'', "''");
    let recording = if by_recording {
        "AND recording_id = ANY($3)"
    } else {
        ""
    };
    let order = if exact {
        "embedding <=> $1".to_owned()
    } else {
        format!("embedding::vector({dimension}) <=> $1")
    };
    format!(
        "WITH hits AS MATERIALIZED (
             SELECT id, recording_id, idx, start_ms, end_ms, text,
                    embedding::vector({dimension}) <=> $1 AS distance
             FROM passages WHERE model = '{model}' {recording}
             ORDER BY {order} LIMIT $2)
         SELECT * FROM hits ORDER BY distance, id"
    )
}

/// The `k` passages of `model` nearest to `query` (cosine), in the transaction's org,
/// optionally of one recording.
pub async fn nearest(
    tx: &mut Transaction<'_, Postgres>,
    model: &str,
    query: &[f32],
    k: u32,
    recording: Option<Uuid>,
) -> sqlx::Result<Vec<Hit>> {
    let recordings = recording.map(|r| [r]);
    nearest_in(tx, model, query, k, recordings.as_ref().map(|r| &r[..])).await
}

/// The `k` passages of `model` nearest to `query` (cosine), in the transaction's org,
/// optionally only of `recordings`: exactly when the scope is small (some recordings, or an
/// org with fewer than [`EXACT_BELOW`] passages), through the HNSW index otherwise.
pub async fn nearest_in(
    tx: &mut Transaction<'_, Postgres>,
    model: &str,
    query: &[f32],
    k: u32,
    recordings: Option<&[Uuid]>,
) -> sqlx::Result<Vec<Hit>> {
    let strategy = if recordings.is_some() || in_scope(tx, model, EXACT_BELOW).await? < EXACT_BELOW
    {
        Strategy::Exact
    } else {
        Strategy::Index {
            ef_search: EF_SEARCH,
        }
    };
    nearest_with(tx, model, query, k, recordings, strategy).await
}

/// How many passages of `model` the transaction's org has, counting no further than
/// `limit` (an index-only scan of `passages_org_model`, so large orgs cost no more).
pub async fn in_scope(
    tx: &mut Transaction<'_, Postgres>,
    model: &str,
    limit: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT 1 FROM passages WHERE org_id = app_org_id() AND model = $1
                               LIMIT $2) s",
    )
    .bind(model)
    .bind(limit)
    .fetch_one(&mut **tx)
    .await
}

/// [`nearest_in`] with the strategy chosen by the caller (the benchmark compares them).
///
/// For the index, sets `hnsw.iterative_scan = relaxed_order` for the rest of the
/// transaction: row-level security (and the recording filter) drop rows after the index
/// produced them, and without iterative scans an index scan returns at most
/// `hnsw.ef_search` candidates before filtering, so a filtered search could come back short.
pub async fn nearest_with(
    tx: &mut Transaction<'_, Postgres>,
    model: &str,
    query: &[f32],
    k: u32,
    recordings: Option<&[Uuid]>,
    strategy: Strategy,
) -> sqlx::Result<Vec<Hit>> {
    if let Strategy::Index { ef_search } = strategy {
        set_iterative_scan(tx).await?;
        sqlx::query(AssertSqlSafe(format!(
            "SET LOCAL hnsw.ef_search = {ef_search}"
        )))
        .execute(&mut **tx)
        .await?;
    }
    let exact = strategy == Strategy::Exact;
    let sql = strategy_sql(model, query.len(), recordings.is_some(), exact);
    let mut q = sqlx::query_as::<_, Hit>(AssertSqlSafe(sql))
        .bind(Vector::from(query.to_vec()))
        .bind(i64::from(k));
    if let Some(recordings) = recordings {
        q = q.bind(recordings);
    }
    q.fetch_all(&mut **tx).await
}

/// The plan of [`nearest`]'s index strategy with the same binds and settings, one line per
/// row of EXPLAIN: whether it uses the model's HNSW index.
pub async fn explain_nearest(
    tx: &mut Transaction<'_, Postgres>,
    model: &str,
    query: &[f32],
    k: u32,
    recording: Option<Uuid>,
) -> sqlx::Result<Vec<String>> {
    set_iterative_scan(tx).await?;
    let sql = format!(
        "EXPLAIN {}",
        nearest_sql(model, query.len(), recording.is_some())
    );
    let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql))
        .bind(Vector::from(query.to_vec()))
        .bind(i64::from(k));
    if let Some(recording) = recording {
        q = q.bind(vec![recording]);
    }
    q.fetch_all(&mut **tx).await
}

async fn set_iterative_scan(tx: &mut Transaction<'_, Postgres>) -> sqlx::Result<()> {
    sqlx::query("SET LOCAL hnsw.iterative_scan = relaxed_order")
        .execute(&mut **tx)
        .await?;
    Ok(())
}
