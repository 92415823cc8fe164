//! Hybrid search: the vector and keyword lists of one question, fused and merged.

use serde::Serialize;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::{
    fusion::{self, Merged},
    keyword, vector,
};

/// A passage as both lists return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub id: i64,
    pub recording_id: Uuid,
    pub idx: i32,
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
}

/// Which lists count. Only [`Mode::Hybrid`] serves requests; the others are baselines for
/// the retrieval benchmark, ranked and merged the same way so the comparison is fair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Vector,
    Keyword,
    Hybrid,
}

/// What to search: one model's vectors, and optionally only some recordings.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub model: &'a str,
    pub recordings: Option<&'a [Uuid]>,
}

/// Each list is this many times deeper than the answer, so that a passage ranked modestly
/// by both lists can still win the fusion.
const DEPTH: usize = 4;
const MIN_DEPTH: usize = 40;

/// The `top_k` best passages for `question` (embedded as `query`), fused by Reciprocal Rank
/// Fusion, then merged where they overlap or touch. The result can hold fewer than `top_k`
/// items: merged passages count once.
pub async fn search(
    tx: &mut Transaction<'_, Postgres>,
    scope: Scope<'_>,
    question: &str,
    query: &[f32],
    top_k: usize,
    mode: Mode,
) -> sqlx::Result<Vec<Merged>> {
    let depth = (top_k * DEPTH).max(MIN_DEPTH) as u32;
    let by_vector = if mode == Mode::Keyword {
        Vec::new()
    } else {
        vector::nearest_in(tx, scope.model, query, depth, scope.recordings)
            .await?
            .into_iter()
            .map(|h| Candidate {
                id: h.id,
                recording_id: h.recording_id,
                idx: h.idx,
                start_ms: h.start_ms,
                end_ms: h.end_ms,
                text: h.text,
            })
            .collect()
    };
    let by_keyword = if mode == Mode::Vector {
        Vec::new()
    } else {
        keyword::matching(tx, scope.model, question, depth, scope.recordings)
            .await?
            .into_iter()
            .map(|h| {
                // Squared: one word of six (1/36) barely counts, most of them nearly fully.
                // Alone, the keyword list keeps its own order: it is the baseline.
                let weight = if mode == Mode::Keyword {
                    1.0
                } else {
                    h.coverage * h.coverage
                };
                let candidate = Candidate {
                    id: h.id,
                    recording_id: h.recording_id,
                    idx: h.idx,
                    start_ms: h.start_ms,
                    end_ms: h.end_ms,
                    text: h.text,
                };
                (candidate, weight)
            })
            .collect()
    };
    let mut fused = fusion::fuse(by_vector, by_keyword, fusion::RRF_K);
    fused.truncate(top_k);
    Ok(fusion::merge(fused))
}
