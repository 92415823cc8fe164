//! The embed stage without Temporal: a transcript cut into passages, embedded with the
//! in-process all-MiniLM-L6-v2, stored in pgvector, and searched by vector and by keyword.

use std::sync::{
    OnceLock,
    atomic::{AtomicU32, AtomicUsize, Ordering},
};

use mediadocs_activities::embedding::{
    self, BATCH_SIZE, EmbedError, NoProgress, Progress,
    passages::{Segment, Sizing, split},
    store,
};
use mediadocs_providers::{
    embeddings::{
        Embedder, EmbeddingError,
        local::{LocalEmbedder, LocalEmbedderSettings},
    },
    transcription::{Segment as TranscriptSegment, Transcript},
};
use mediadocs_store::tenancy;
use mediadocs_tests::{TestApp, TestContext, fixtures, tools::repo_root};
use sqlx::PgPool;
use uuid::Uuid;

const MODEL: &str = "all-MiniLM-L6-v2";
const TICKET: &str = "OPS-1234";
/// Said once, early in the fourth passage, and unlike anything else in the transcript.
const BREAD: &str = "Grandma's sourdough bread recipe uses rye flour, honey and a cast iron pot.";

fn local() -> &'static LocalEmbedder {
    static EMBEDDER: OnceLock<LocalEmbedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| {
        LocalEmbedder::load(&LocalEmbedderSettings {
            dir: repo_root().join(".tools/models/all-MiniLM-L6-v2"),
            batch_size: 32,
            max_tokens: 256,
        })
        .unwrap_or_else(|e| panic!("{e}"))
    })
}

/// Ten topics of ten segments each, so that passages differ in meaning; one segment names a
/// ticket code for the keyword search, another bakes bread for the vector search.
fn transcript(segments: usize) -> Vec<Segment> {
    const TOPICS: [[&str; 4]; 10] = [
        ["database", "migration", "index", "replica"],
        ["hiring", "interview", "candidate", "recruiter"],
        ["marketing", "campaign", "newsletter", "audience"],
        ["kubernetes", "cluster", "deployment", "container"],
        ["budget", "invoice", "expense", "forecast"],
        ["security", "password", "phishing", "firewall"],
        ["customer", "support", "complaint", "refund"],
        ["mobile", "app", "release", "screen"],
        ["office", "lunch", "kitchen", "coffee"],
        ["roadmap", "quarter", "milestone", "priority"],
    ];
    let mut segments: Vec<Segment> = (0..segments)
        .map(|i| {
            let [a, b, c, d] = TOPICS[(i / 10) % TOPICS.len()];
            let n = i % 10;
            let mut text = format!(
                "In point {n} about the {a} we looked at the {b} and the {c} again. \
                 Everyone agreed the {d} needs more work on the {a} {b} before Friday."
            );
            if i == 23 {
                text = format!("The {a} outage is tracked as ticket {TICKET}. {text}");
            }
            Segment {
                idx: i as i32,
                start_ms: i as i64 * 6_000,
                end_ms: i as i64 * 6_000 + 5_500,
                text,
                speaker: Some(["A", "B"][i % 2].into()),
            }
        })
        .collect();
    // On the second line of a passage: past the overlap, and well inside the 256 word pieces
    // the model reads. Passages before it do not change, so neither does its place.
    let passages = split(&segments, Sizing::default());
    if let Some(p) = passages.get(3) {
        let s = &mut segments[p.first_segment as usize + 1];
        s.text = format!("{BREAD} {}", s.text);
    }
    segments
}

/// A recording with its transcript, inserted behind the API.
async fn recording_with_transcript(ctx: &TestContext, org: Uuid, segments: &[Segment]) -> Uuid {
    let transcript = Transcript {
        language: Some("en".into()),
        duration_ms: segments.last().map(|s| s.end_ms),
        segments: segments
            .iter()
            .map(|s| TranscriptSegment {
                start_ms: s.start_ms,
                end_ms: s.end_ms,
                text: s.text.clone(),
                speaker: s.speaker.clone(),
                confidence: None,
            })
            .collect(),
    };
    fixtures::recording_with_transcript(&ctx.owner_pool, org, "embedding", &transcript).await
}

async fn new_org(app: &TestApp, email: &str) -> Uuid {
    app.register(email).await.org_id()
}

/// (id, idx, dimension, vector_dims) of the recording's passages, by idx, seen by the owner.
async fn rows(pool: &PgPool, recording: Uuid) -> Vec<(i64, i32, i32, i32)> {
    sqlx::query_as(
        "SELECT id, idx, dimension, vector_dims(embedding) FROM passages
         WHERE recording_id = $1 AND model = $2 ORDER BY idx",
    )
    .bind(recording)
    .bind(MODEL)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[test]
fn split_respects_sizes_overlap_and_timestamps() {
    let segments = transcript(100);
    let passages = split(&segments, Sizing::default());
    assert!(passages.len() >= 5, "{} passages", passages.len());
    assert_eq!(
        passages,
        split(&segments, Sizing::default()),
        "deterministic"
    );
    let (first, last) = (&segments[0], &segments[99]);
    for (i, p) in passages.iter().enumerate() {
        assert!(p.tokens <= 400, "passage {i} has {} tokens", p.tokens);
        assert!(p.start_ms <= p.end_ms);
        assert!(p.start_ms >= first.start_ms && p.end_ms <= last.end_ms);
        let seg = |k: i32| &segments[k as usize];
        assert_eq!(
            (p.start_ms, p.end_ms),
            (seg(p.first_segment).start_ms, seg(p.last_segment).end_ms)
        );
        if let Some(next) = passages.get(i + 1) {
            assert!(p.tokens >= 200, "passage {i} has {} tokens", p.tokens);
            assert!(
                next.start_ms > p.start_ms && next.end_ms > p.end_ms,
                "monotonic at {i}"
            );
            // The next passage repeats this one's last segment(s), a few dozen tokens.
            assert!(
                next.first_segment <= p.last_segment,
                "no overlap after passage {i}"
            );
            assert!(next.first_segment > p.first_segment);
            let shared = &seg(p.last_segment).text;
            assert!(p.text.contains(shared.as_str()) && next.text.contains(shared.as_str()));
        }
    }
    assert_eq!(passages[0].first_segment, 0);
    assert_eq!(passages.last().unwrap().last_segment, 99);
}

#[tokio::test(flavor = "multi_thread")]
async fn embedding_is_idempotent_and_drops_strays() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let org = new_org(&app, "embed@example.com").await;
    let recording = recording_with_transcript(&ctx, org, &transcript(100)).await;
    let expected = split(&transcript(100), Sizing::default()).len();

    let embedded =
        embedding::embed_transcript(&ctx.pool, local(), org, recording, BATCH_SIZE, &NoProgress)
            .await
            .unwrap();
    assert_eq!(embedded.passages as usize, expected);
    assert_eq!((embedded.model.as_str(), embedded.dimension), (MODEL, 384));
    let first = rows(&ctx.owner_pool, recording).await;
    assert_eq!(first.len(), expected);
    assert!(
        first
            .iter()
            .enumerate()
            .all(|(i, r)| r.1 == i as i32 && r.2 == 384 && r.3 == 384)
    );

    embedding::embed_transcript(&ctx.pool, local(), org, recording, BATCH_SIZE, &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        rows(&ctx.owner_pool, recording).await,
        first,
        "a re-run keeps the rows and ids"
    );

    // The transcript shrinks (say, a re-transcription): the re-run leaves no stray passages.
    sqlx::query("DELETE FROM transcript_segments WHERE recording_id = $1 AND idx >= 40")
        .bind(recording)
        .execute(&ctx.owner_pool)
        .await
        .unwrap();
    let shorter =
        embedding::embed_transcript(&ctx.pool, local(), org, recording, BATCH_SIZE, &NoProgress)
            .await
            .unwrap();
    assert_eq!(
        shorter.passages as usize,
        split(&transcript(40), Sizing::default()).len()
    );
    let after = rows(&ctx.owner_pool, recording).await;
    assert_eq!(after.len(), shorter.passages as usize);
    assert!((shorter.passages as usize) < expected);
    for (row, before) in after.iter().zip(&first) {
        assert_eq!(row.0, before.0, "passage {} kept its id", row.1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn passages_are_confined_to_their_org() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let (a, b) = (
        new_org(&app, "a@example.com").await,
        new_org(&app, "b@example.com").await,
    );
    let ra = recording_with_transcript(&ctx, a, &transcript(30)).await;
    let rb = recording_with_transcript(&ctx, b, &transcript(30)).await;
    let stub = Stub::default();
    for (org, recording) in [(a, ra), (b, rb)] {
        embedding::embed_transcript(&ctx.pool, &stub, org, recording, BATCH_SIZE, &NoProgress)
            .await
            .unwrap();
    }
    // Org A cannot embed B's recording: under A's policy it does not exist.
    let err = embedding::embed_transcript(&ctx.pool, &stub, a, rb, BATCH_SIZE, &NoProgress).await;
    assert!(
        matches!(err, Err(EmbedError::RecordingGone(r)) if r == rb),
        "{err:?}"
    );

    let visible = |org: Option<Uuid>| {
        let pool = ctx.pool.clone();
        async move {
            let mut tx = tenancy::begin(&pool, org, None).await.unwrap();
            let seen: Vec<Uuid> = sqlx::query_scalar("SELECT DISTINCT recording_id FROM passages")
                .fetch_all(&mut *tx)
                .await
                .unwrap();
            seen
        }
    };
    assert_eq!(visible(Some(a)).await, vec![ra]);
    assert_eq!(visible(Some(b)).await, vec![rb]);
    assert!(visible(None).await.is_empty());

    let query = stub.embed(&["anything".into()]).await.unwrap().remove(0);
    let mut tx = tenancy::begin(&ctx.pool, Some(a), None).await.unwrap();
    let hits = store::nearest(&mut tx, MODEL, &query, 50, None)
        .await
        .unwrap();
    assert!(!hits.is_empty() && hits.iter().all(|h| h.recording_id == ra));
}

#[tokio::test(flavor = "multi_thread")]
async fn nearest_uses_hnsw_and_finds_the_passage() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let org = new_org(&app, "search@example.com").await;
    let segments = transcript(100);
    let recording = recording_with_transcript(&ctx, org, &segments).await;
    embedding::embed_transcript(&ctx.pool, local(), org, recording, BATCH_SIZE, &NoProgress)
        .await
        .unwrap();

    // Enough other vectors that the planner picks the index over computing every distance.
    let filler = recording_with_transcript(&ctx, org, &[]).await;
    sqlx::query(
        "INSERT INTO passages (org_id, recording_id, idx, first_segment, last_segment, start_ms,
                               end_ms, text, tokens, model, dimension, embedding)
         SELECT $1, $2, g, 0, 0, 0, 0, 'filler', 1, $3, 384,
                (SELECT array_agg(random() - 0.5) FROM generate_series(1, 384) WHERE g >= 0)::vector
         FROM generate_series(0, 1999) g",
    )
    .bind(org)
    .bind(filler)
    .bind(MODEL)
    .execute(&ctx.owner_pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE passages")
        .execute(&ctx.owner_pool)
        .await
        .unwrap();

    // A sentence of one passage only (not in an overlap), early enough in it that the
    // model's 256-word-piece window sees it.
    let passages = split(&segments, Sizing::default());
    let with_bread: Vec<_> = passages.iter().filter(|p| p.text.contains(BREAD)).collect();
    assert_eq!(with_bread.len(), 1, "the sentence is in one passage only");
    let target = with_bread[0];
    assert!(target.text.find(BREAD).unwrap() < 600, "{}", target.text);
    let query = local().embed(&[BREAD.to_owned()]).await.unwrap().remove(0);

    let mut tx = tenancy::begin(&ctx.pool, Some(org), None).await.unwrap();
    let plan = store::explain_nearest(&mut tx, MODEL, &query, 5, None)
        .await
        .unwrap()
        .join("\n");
    assert!(
        plan.contains("Index Scan using passages_minilm_hnsw"),
        "{plan}"
    );
    // The answers are checked without the filler: uniformly random vectors are nothing like
    // text embeddings, and an approximate walk that starts among 2,000 of them can settle
    // far from the answer (it did, now and then, with pgvector's default ef_search of 40).
    // Recall on realistic data is the retrieval benchmark's job.
    sqlx::query("DELETE FROM passages WHERE recording_id = $1")
        .bind(filler)
        .execute(&ctx.owner_pool)
        .await
        .unwrap();
    for filter in [None, Some(recording)] {
        let hits = store::nearest(&mut tx, MODEL, &query, 5, filter)
            .await
            .unwrap();
        assert_eq!(hits.len(), 5);
        assert_eq!(
            (hits[0].recording_id, hits[0].idx),
            (recording, target.idx as i32),
            "{hits:#?}"
        );
        assert!(hits.windows(2).all(|w| w[0].distance <= w[1].distance));
    }

    // Full text: the ticket code finds the passages that mention it, and only those.
    let found: Vec<(i32, String)> = sqlx::query_as(
        "SELECT idx, text FROM passages
         WHERE model = $1 AND tsv @@ websearch_to_tsquery('english', $2) ORDER BY idx",
    )
    .bind(MODEL)
    .bind(TICKET)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert!(!found.is_empty());
    assert!(
        found.iter().all(|(_, text)| text.contains(TICKET)),
        "{found:?}"
    );
    let mentioning = passages.iter().filter(|p| p.text.contains(TICKET)).count();
    assert_eq!(found.len(), mentioning);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelled_runs_stop_and_retries_resume() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let org = new_org(&app, "resume@example.com").await;
    let recording = recording_with_transcript(&ctx, org, &transcript(100)).await;
    let total = split(&transcript(100), Sizing::default()).len();
    let batch = 3;
    assert!(total > 2 * batch);

    // Cancelled once the first batch is stored: nothing more is written.
    let stub = Stub::default();
    let cancel = Script {
        resume: 0,
        cancel_after: Some(1),
        done: AtomicU32::new(0),
    };
    let err = embedding::embed_transcript(&ctx.pool, &stub, org, recording, batch, &cancel).await;
    assert!(matches!(err, Err(EmbedError::Cancelled)), "{err:?}");
    assert_eq!(rows(&ctx.owner_pool, recording).await.len(), batch);

    // The retry starts after the batch the heartbeat reported.
    let stub = Stub::default();
    let resume = Script {
        resume: 1,
        cancel_after: None,
        done: AtomicU32::new(0),
    };
    let embedded = embedding::embed_transcript(&ctx.pool, &stub, org, recording, batch, &resume)
        .await
        .unwrap();
    assert_eq!(embedded.passages as usize, total);
    assert_eq!(stub.texts.load(Ordering::SeqCst), total - batch);
    assert_eq!(
        resume.done.load(Ordering::SeqCst) as usize,
        total.div_ceil(batch)
    );
    assert_eq!(rows(&ctx.owner_pool, recording).await.len(), total);

    let gone =
        embedding::embed_transcript(&ctx.pool, &stub, org, Uuid::now_v7(), batch, &NoProgress)
            .await;
    assert!(
        matches!(gone, Err(EmbedError::RecordingGone(_))),
        "{gone:?}"
    );
}

/// A stand-in embedder for the tests that do not care about meaning: 384 dimensions under
/// the local model's name, so rows look like the real thing. Counts the texts it embedded.
#[derive(Default)]
struct Stub {
    texts: AtomicUsize,
}

#[async_trait::async_trait]
impl Embedder for Stub {
    fn model(&self) -> &str {
        MODEL
    }

    fn dimension(&self) -> usize {
        384
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        self.texts.fetch_add(texts.len(), Ordering::SeqCst);
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0.01; 384];
                v[t.len() % 384] = 1.0;
                v
            })
            .collect())
    }
}

/// Progress that resumes after `resume` batches and reports cancellation after
/// `cancel_after` batches.
struct Script {
    resume: u32,
    cancel_after: Option<u32>,
    done: AtomicU32,
}

impl Progress for Script {
    fn resume_from(&self) -> u32 {
        self.resume
    }

    fn is_cancelled(&self) -> bool {
        self.cancel_after
            .is_some_and(|n| self.done.load(Ordering::SeqCst) >= n)
    }

    async fn batch_done(&self, batches_done: u32) {
        self.done.store(batches_done, Ordering::SeqCst);
    }
}
