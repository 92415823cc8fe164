//! Reciprocal Rank Fusion of ranked lists, and merging of passages that overlap or touch.
//!
//! RRF (Cormack, Clarke and Büttcher, 2009) scores a passage `Σ w / (k + rank)` over the
//! lists it appears in. It needs no calibration between a cosine distance and a `ts_rank`,
//! which live on unrelated scales, and a passage that both lists rank well beats one that
//! only one list ranks first.
//!
//! Vector hits weigh 1. A keyword hit weighs the square of the share of the question's terms
//! it contains (see `hybrid`): terms are OR-ed (see `keyword`), so a passage sharing one
//! incidental word of a long paraphrased question still makes the keyword list, high up when
//! nothing matches better, yet it is near-noise; a passage holding the code or the name asked
//! about counts fully. Unweighted, RRF let such matches reorder the vector list's near-ties
//! at the top (ranks 1 and 2 differ by 1/61 - 1/62) and hybrid fell below vector-only on
//! the evaluation set; see the retrieval benchmark in the README.

use std::collections::HashMap;

use serde::Serialize;
use uuid::Uuid;

use crate::hybrid::Candidate;

/// The constant of the original paper, which damps the difference between the very top ranks.
pub const RRF_K: f64 = 60.0;

/// A passage with its fused score and its (1-based) rank in each list that had it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    pub passage: Candidate,
    pub score: f64,
    pub vector_rank: Option<usize>,
    pub keyword_rank: Option<usize>,
}

/// Both lists fused, best first; ties keep the vector list's order, then the keyword list's.
/// Each keyword hit comes with its weight (its coverage of the question, 0 to 1).
pub fn fuse(vector: Vec<Candidate>, keyword: Vec<(Candidate, f64)>, k: f64) -> Vec<Scored> {
    let mut by_id: HashMap<i64, usize> = HashMap::new();
    let mut scored: Vec<Scored> = Vec::with_capacity(vector.len() + keyword.len());
    let vector = vector.into_iter().map(|c| (c, 1.0)).collect();
    for (list, candidates) in [(0, vector), (1, keyword)] {
        for (i, (passage, weight)) in candidates.into_iter().enumerate() {
            let rank = i + 1;
            let at = *by_id.entry(passage.id).or_insert_with(|| {
                scored.push(Scored {
                    passage,
                    score: 0.0,
                    vector_rank: None,
                    keyword_rank: None,
                });
                scored.len() - 1
            });
            let entry = &mut scored[at];
            entry.score += weight / (k + rank as f64);
            if list == 0 {
                entry.vector_rank = Some(rank);
            } else {
                entry.keyword_rank = Some(rank);
            }
        }
    }
    // Stable: equal scores keep first-seen order.
    scored.sort_by(|a, b| b.score.total_cmp(&a.score));
    scored
}

/// Consecutive passages of one recording, cited as one span.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Merged {
    pub recording_id: Uuid,
    /// The best-scored passage of the span: the one a citation points at.
    pub passage_id: i64,
    /// Every passage in the span, in transcript order.
    pub passage_ids: Vec<i64>,
    pub first_idx: i32,
    pub last_idx: i32,
    pub start_ms: i64,
    pub end_ms: i64,
    /// The passages' text, the lines they share (their overlap) written once.
    pub text: String,
    /// The best fused score of its passages.
    pub score: f64,
}

/// Merges passages of the same recording that overlap in time or are neighbours
/// (consecutive indexes), best span first. Passages overlap by design (each repeats the end
/// of the one before), so two neighbours in the answer would otherwise cite the same
/// moment twice and send the model the shared lines twice.
pub fn merge(scored: Vec<Scored>) -> Vec<Merged> {
    let mut by_recording: HashMap<Uuid, Vec<(usize, Scored)>> = HashMap::new();
    for (rank, s) in scored.into_iter().enumerate() {
        by_recording
            .entry(s.passage.recording_id)
            .or_default()
            .push((rank, s));
    }
    let mut spans: Vec<(usize, Merged)> = Vec::new();
    for (_, mut passages) in by_recording {
        passages.sort_by_key(|(_, s)| (s.passage.idx, s.passage.start_ms));
        let mut current: Option<(usize, Merged)> = None;
        for (rank, s) in passages {
            match current.as_mut() {
                Some((best_rank, span)) if touches(span, &s.passage) => {
                    span.passage_ids.push(s.passage.id);
                    span.last_idx = span.last_idx.max(s.passage.idx);
                    span.end_ms = span.end_ms.max(s.passage.end_ms);
                    span.text = join_overlapping(&span.text, &s.passage.text);
                    if rank < *best_rank {
                        *best_rank = rank;
                        span.passage_id = s.passage.id;
                        span.score = s.score;
                    }
                }
                _ => {
                    spans.extend(current.take());
                    current = Some((rank, start_span(s)));
                }
            }
        }
        spans.extend(current);
    }
    spans.sort_by_key(|(rank, _)| *rank);
    spans.into_iter().map(|(_, span)| span).collect()
}

fn start_span(s: Scored) -> Merged {
    let p = s.passage;
    Merged {
        recording_id: p.recording_id,
        passage_id: p.id,
        passage_ids: vec![p.id],
        first_idx: p.idx,
        last_idx: p.idx,
        start_ms: p.start_ms,
        end_ms: p.end_ms,
        text: p.text,
        score: s.score,
    }
}

fn touches(span: &Merged, next: &Candidate) -> bool {
    next.idx <= span.last_idx + 1 || next.start_ms <= span.end_ms
}

/// `a` then `b`, without the lines at the start of `b` that already end `a`.
fn join_overlapping(a: &str, b: &str) -> String {
    let (left, right): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let shared = (1..=left.len().min(right.len()))
        .rev()
        .find(|&n| left[left.len() - n..] == right[..n])
        .unwrap_or(0);
    let mut lines = left;
    lines.extend(&right[shared..]);
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(id: i64, recording: u128, idx: i32, text: &str) -> Candidate {
        Candidate {
            id,
            recording_id: Uuid::from_u128(recording),
            idx,
            start_ms: i64::from(idx) * 10_000,
            end_ms: i64::from(idx) * 10_000 + 12_000,
            text: text.to_owned(),
        }
    }

    #[test]
    fn a_passage_both_lists_rank_beats_one_either_list_ranks_first() {
        let (a, b, c) = (
            passage(1, 1, 0, "a"),
            passage(2, 1, 5, "b"),
            passage(3, 1, 9, "c"),
        );
        let fused = fuse(
            vec![a.clone(), c.clone()],
            vec![(b.clone(), 1.0), (c.clone(), 1.0)],
            RRF_K,
        );
        let ids: Vec<i64> = fused.iter().map(|s| s.passage.id).collect();
        assert_eq!(ids, vec![3, 1, 2]);
        assert_eq!(
            (fused[0].vector_rank, fused[0].keyword_rank),
            (Some(2), Some(2))
        );
        assert!((fused[0].score - 2.0 / 62.0).abs() < 1e-12);
        assert!((fused[1].score - 1.0 / 61.0).abs() < 1e-12);
    }

    #[test]
    fn one_list_alone_keeps_its_order() {
        let list = (0..5)
            .map(|i| (passage(i, 1, i as i32 * 3, "x"), 1.0))
            .collect();
        let fused = fuse(Vec::new(), list, RRF_K);
        let ids: Vec<i64> = fused.iter().map(|s| s.passage.id).collect();
        assert_eq!(ids, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_keyword_hit_counts_by_how_much_of_the_question_it_covers() {
        let (a, b) = (passage(1, 1, 0, "a"), passage(2, 1, 5, "b"));
        // `b` tops the keyword list with one word of six; `a` is second by vector only.
        let fused = fuse(
            vec![passage(3, 1, 9, "c"), a.clone()],
            vec![(b.clone(), 1.0 / 6.0)],
            RRF_K,
        );
        let ids: Vec<i64> = fused.iter().map(|s| s.passage.id).collect();
        assert_eq!(ids, vec![3, 1, 2]);
        assert!((fused[2].score - 1.0 / 6.0 / 61.0).abs() < 1e-12);
    }

    #[test]
    fn neighbours_of_one_recording_merge_and_their_shared_lines_appear_once() {
        let scored = fuse(
            vec![
                passage(11, 1, 4, "l3\nl4\nl5"),
                passage(20, 2, 4, "other recording"),
                passage(10, 1, 3, "l1\nl2\nl3"),
                passage(13, 1, 7, "far away"),
            ],
            Vec::new(),
            RRF_K,
        );
        let merged = merge(scored);
        assert_eq!(merged.len(), 3);
        let first = &merged[0];
        assert_eq!(first.passage_id, 11, "the best passage is the one cited");
        assert_eq!(first.passage_ids, vec![10, 11]);
        assert_eq!((first.first_idx, first.last_idx), (3, 4));
        assert_eq!((first.start_ms, first.end_ms), (30_000, 52_000));
        assert_eq!(first.text, "l1\nl2\nl3\nl4\nl5");
        assert!((first.score - 1.0 / 61.0).abs() < 1e-12);
        assert_eq!(merged[1].recording_id, Uuid::from_u128(2));
        assert_eq!(merged[2].passage_ids, vec![13], "idx 7 is not next to 4");
    }

    #[test]
    fn text_without_a_shared_line_is_joined_whole() {
        assert_eq!(join_overlapping("a\nb", "c\nd"), "a\nb\nc\nd");
        assert_eq!(join_overlapping("a\nb", "a\nb\nc"), "a\nb\nc");
    }
}
