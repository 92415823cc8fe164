//! The retrieval evaluation set (`tests/fixtures/retrieval/eval.txt`): short transcripts and
//! questions with the line that answers each, loaded into an org's passages with the real
//! local embedder, and scored.

use mediadocs_activities::embedding::{
    passages::{Segment, Sizing, split},
    store::{self, Owner},
};
use mediadocs_providers::embeddings::Embedder;
use mediadocs_retrieval::Merged;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{fixtures, tools::repo_root};

pub struct Transcript {
    pub id: String,
    pub title: String,
    pub segments: Vec<Segment>,
}

pub struct Question {
    /// `direct`, `paraphrase` or `keyword`.
    pub kind: String,
    pub transcript: String,
    /// A phrase of the line that answers the question.
    pub answer: String,
    pub text: String,
}

pub struct EvalSet {
    pub transcripts: Vec<Transcript>,
    pub questions: Vec<Question>,
}

/// Small passages (25–55 tokens, two or three lines), so that a transcript of a few lines
/// still makes several and retrieval has to find the right moment, not just the meeting.
pub const SIZING: Sizing = Sizing {
    min: 25,
    target: 35,
    max: 55,
    overlap: 10,
};

impl EvalSet {
    /// Reads and checks the set: every answer phrase is in its transcript, once.
    pub fn load() -> Self {
        let path = repo_root().join("tests/fixtures/retrieval/eval.txt");
        let text = std::fs::read_to_string(&path).expect("reading the evaluation set");
        let (mut transcripts, mut questions) = (Vec::<Transcript>::new(), Vec::new());
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            if let Some(header) = line.strip_prefix("= ") {
                let (id, title) = header.split_once(" | ").expect("= id | title");
                transcripts.push(Transcript {
                    id: id.trim().into(),
                    title: title.trim().into(),
                    segments: Vec::new(),
                });
            } else if let Some(q) = line.strip_prefix("? ") {
                let parts: Vec<&str> = q.splitn(4, " | ").map(str::trim).collect();
                let [kind, transcript, answer, text] = parts[..] else {
                    panic!("malformed question line: {line}");
                };
                questions.push(Question {
                    kind: kind.into(),
                    transcript: transcript.into(),
                    answer: answer.into(),
                    text: text.into(),
                });
            } else {
                let t = transcripts
                    .last_mut()
                    .expect("a line before any transcript");
                let (speaker, said) = line.split_once(": ").expect("Speaker: text");
                let i = t.segments.len() as i64;
                t.segments.push(Segment {
                    idx: i as i32,
                    start_ms: i * 6_000,
                    end_ms: i * 6_000 + 5_500,
                    text: said.into(),
                    speaker: Some(speaker.into()),
                });
            }
        }
        for q in &questions {
            let t = transcripts
                .iter()
                .find(|t| t.id == q.transcript)
                .unwrap_or_else(|| panic!("unknown transcript {}", q.transcript));
            let holders = t
                .segments
                .iter()
                .filter(|s| s.text.contains(&q.answer))
                .count();
            assert_eq!(holders, 1, "{:?} must be in one line of {}", q.answer, t.id);
        }
        Self {
            transcripts,
            questions,
        }
    }
}

/// Inserts every transcript as a recording of `org`, cut into [`SIZING`] passages embedded
/// by `embedder`. Returns each transcript's recording ID, in order, and the passage count.
pub async fn index(
    owner_pool: &PgPool,
    pool: &PgPool,
    org: Uuid,
    set: &EvalSet,
    embedder: &dyn Embedder,
) -> (Vec<Uuid>, usize) {
    let mut ids = Vec::new();
    let mut count = 0;
    for t in &set.transcripts {
        let id = fixtures::recording(owner_pool, org, "completed").await;
        fixtures::rename(owner_pool, org, id, &t.title).await;
        let passages = split(&t.segments, SIZING);
        let texts: Vec<String> = passages.iter().map(|p| p.text.clone()).collect();
        let vectors = embedder.embed(&texts).await.expect("embedding passages");
        let mut tx = mediadocs_store::tenancy::begin(pool, Some(org), None)
            .await
            .unwrap();
        let owner = Owner {
            org,
            recording: id,
            model: embedder.model(),
        };
        store::upsert(&mut tx, owner, &passages, vectors)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        count += passages.len();
        ids.push(id);
    }
    (ids, count)
}

/// The 1-based rank of the first result that answers `q`, if any.
pub fn first_relevant(results: &[Merged], recording: Uuid, q: &Question) -> Option<usize> {
    results
        .iter()
        .position(|m| m.recording_id == recording && m.text.contains(&q.answer))
        .map(|i| i + 1)
}
