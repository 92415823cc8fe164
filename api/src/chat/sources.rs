//! Retrieval for chat and search: the question embedded, the org's passages searched
//! (hybrid, see `mediadocs-retrieval`), and the hits numbered as citable sources.

use std::collections::{BTreeMap, HashMap};

use mediadocs_retrieval::{Merged, Mode, Scope};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;

use super::ChatState;
use crate::error::ApiError;

/// A passage (or a run of neighbouring ones) the answer may cite as `[n]`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Source {
    /// The number the answer cites it by, from 1.
    pub n: usize,
    pub recording_id: Uuid,
    pub recording_title: String,
    /// The best-matching passage; with `start_ms`, where a player should jump.
    pub passage_id: i64,
    /// Every passage merged into this source, in transcript order.
    pub passage_ids: Vec<i64>,
    pub start_ms: i64,
    pub end_ms: i64,
    /// The line of the passage that best matches the question, shortened.
    pub snippet: String,
    /// Reciprocal Rank Fusion score: higher is better; comparable within one answer only.
    pub score: f64,
    /// The whole text, for the prompt; not sent to clients.
    #[serde(skip)]
    pub text: String,
}

/// The question as a vector of the embedder's model, off the async workers (the embedder
/// sees to that itself).
pub async fn embed(chat: &ChatState, question: &str) -> Result<(String, Vec<f32>), ApiError> {
    let embedder = chat.embedder().await?;
    let mut vectors =
        embedder
            .embed(&[question.to_owned()])
            .await
            .map_err(|e| ApiError::Unavailable {
                dependency: "embeddings",
                detail: e.to_string(),
            })?;
    let vector = vectors
        .pop()
        .ok_or_else(|| anyhow::anyhow!("the embedder returned no vector"))?;
    Ok((embedder.model().to_owned(), vector))
}

/// The best `top_k` passages of the transaction's org (only of `recordings` when given),
/// numbered from 1.
pub async fn retrieve(
    tx: &mut Transaction<'static, Postgres>,
    model: &str,
    vector: &[f32],
    question: &str,
    recordings: Option<&[Uuid]>,
    top_k: usize,
) -> Result<Vec<Source>, ApiError> {
    let scope = Scope { model, recordings };
    let merged =
        mediadocs_retrieval::search(tx, scope, question, vector, top_k, Mode::Hybrid).await?;
    let ids: Vec<Uuid> = merged.iter().map(|m| m.recording_id).collect();
    let recordings: HashMap<Uuid, (String, BTreeMap<String, String>)> = sqlx::query_as::<
        _,
        (
            Uuid,
            String,
            Option<sqlx::types::Json<BTreeMap<String, String>>>,
        ),
    >(
        "SELECT r.id, r.title, t.speaker_names FROM recordings r
         LEFT JOIN transcripts t ON t.recording_id = r.id WHERE r.id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(|(id, title, names)| (id, (title, names.map(|n| n.0).unwrap_or_default())))
    .collect();
    Ok(merged
        .into_iter()
        .enumerate()
        .map(|(i, mut m)| {
            if let Some((_, names)) = recordings.get(&m.recording_id) {
                m.text = with_speaker_names(&m.text, names);
            }
            let title = recordings.get(&m.recording_id).map(|(t, _)| t.as_str());
            source(i + 1, m, title.unwrap_or_default(), question)
        })
        .collect())
}

/// Passages were embedded with the provider's labels (`A: …` per line); a name given
/// since replaces the label where the line starts with it.
fn with_speaker_names(text: &str, names: &BTreeMap<String, String>) -> String {
    if names.is_empty() {
        return text.to_owned();
    }
    text.lines()
        .map(|line| {
            match line
                .split_once(": ")
                .and_then(|(label, rest)| names.get(label).map(|name| (name, rest)))
            {
                Some((name, rest)) => format!("{name}: {rest}"),
                None => line.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn source(n: usize, m: Merged, title: &str, question: &str) -> Source {
    Source {
        n,
        recording_id: m.recording_id,
        recording_title: title.to_owned(),
        passage_id: m.passage_id,
        passage_ids: m.passage_ids,
        start_ms: m.start_ms,
        end_ms: m.end_ms,
        snippet: snippet(&m.text, question, SNIPPET_CHARS),
        score: m.score,
        text: m.text,
    }
}

const SNIPPET_CHARS: usize = 240;

/// The line (a transcript segment) sharing most words with the question, cut to `max`
/// characters; the first line when none shares any.
pub fn snippet(text: &str, question: &str, max: usize) -> String {
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 3)
            .map(str::to_lowercase)
            .collect()
    };
    let asked = words(question);
    let best = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .max_by_key(|(i, line)| {
            let shared = words(line).iter().filter(|w| asked.contains(w)).count();
            (shared, std::cmp::Reverse(*i))
        })
        .map_or("", |(_, line)| line.trim());
    match best.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &best[..cut]),
        None => best.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snippet_is_the_line_that_shares_most_words() {
        let text = "Ana: welcome everyone\nBen: the billing dashboard shows the wrong currency\nAna: thanks";
        assert_eq!(
            snippet(text, "Which currency does the billing dashboard show?", 240),
            "Ben: the billing dashboard shows the wrong currency"
        );
        assert_eq!(snippet(text, "unrelated", 240), "Ana: welcome everyone");
        assert_eq!(snippet("ééééé", "x", 3), "ééé…");
    }
}
