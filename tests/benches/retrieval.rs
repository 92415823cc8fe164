//! Retrieval quality on the evaluation set (`tests/fixtures/retrieval/eval.txt`): recall@5
//! and MRR@10 of vector-only, keyword-only and hybrid (Reciprocal Rank Fusion) retrieval,
//! with the real local embedder, overall and per kind of question.
//!
//!     scripts/lib/tools.sh install    # the model files, once
//!     cargo bench -p mediadocs-tests --bench retrieval
//!
//! The three modes run the same code (`mediadocs_retrieval::search`) and the same merging of
//! neighbouring passages; only the lists that count differ. A result answers a question when
//! it is of the right recording and its text holds the answering line. Knobs: BENCH_VERBOSE=1
//! prints every question the hybrid misses in its top 5.

use mediadocs_providers::embeddings::{
    Embedder,
    local::{LocalEmbedder, LocalEmbedderSettings},
};
use mediadocs_retrieval::{Mode, Scope};
use mediadocs_tests::{
    TestContext,
    retrieval_eval::{self, EvalSet},
    tools::repo_root,
};
use uuid::Uuid;

const TOP_K: usize = 10;
const MODES: [(Mode, &str); 3] = [
    (Mode::Vector, "vector-only"),
    (Mode::Keyword, "keyword-only"),
    (Mode::Hybrid, "hybrid (RRF)"),
];

#[derive(Default, Clone, Copy)]
struct Score {
    questions: usize,
    hits_at_5: usize,
    reciprocal_ranks: f64,
}

impl Score {
    fn add(&mut self, rank: Option<usize>) {
        self.questions += 1;
        if rank.is_some_and(|r| r <= 5) {
            self.hits_at_5 += 1;
        }
        self.reciprocal_ranks += rank.map_or(0.0, |r| 1.0 / r as f64);
    }
    fn recall(&self) -> f64 {
        self.hits_at_5 as f64 / self.questions.max(1) as f64
    }
    fn mrr(&self) -> f64 {
        self.reciprocal_ranks / self.questions.max(1) as f64
    }
}

fn main() {
    let verbose = std::env::var("BENCH_VERBOSE").is_ok_and(|v| v == "1");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let set = EvalSet::load();
        let embedder = LocalEmbedder::load(&LocalEmbedderSettings {
            dir: repo_root().join(".tools/models/all-MiniLM-L6-v2"),
            batch_size: 32,
            max_tokens: 256,
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let ctx = TestContext::new().await;
        let org = Uuid::now_v7();
        sqlx::query("INSERT INTO orgs (id, name) VALUES ($1, 'retrieval eval')")
            .bind(org)
            .execute(&ctx.owner_pool)
            .await
            .unwrap();
        let (recordings, passages) =
            retrieval_eval::index(&ctx.owner_pool, &ctx.pool, org, &set, &embedder).await;

        let kinds = ["direct", "paraphrase", "keyword"];
        let mut scores = [[Score::default(); 4]; 3];
        for q in &set.questions {
            let vector = embedder.embed(std::slice::from_ref(&q.text)).await.unwrap().remove(0);
            let at = set.transcripts.iter().position(|t| t.id == q.transcript).unwrap();
            let kind = kinds.iter().position(|k| *k == q.kind).expect("a known kind");
            let mut ranks = Vec::new();
            for (m, (mode, name)) in MODES.iter().enumerate() {
                let mut tx = mediadocs_store::tenancy::begin(&ctx.pool, Some(org), None)
                    .await
                    .unwrap();
                let scope = Scope {
                    model: embedder.model(),
                    recordings: None,
                };
                let results = mediadocs_retrieval::search(&mut tx, scope, &q.text, &vector, TOP_K, *mode)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                let rank = retrieval_eval::first_relevant(&results, recordings[at], q);
                ranks.push(rank);
                scores[m][kind].add(rank);
                scores[m][3].add(rank);
                if verbose && rank.is_none_or(|r| r > 5) {
                    eprintln!("  {name:<13} missed [{}] {:?} (rank {rank:?})", q.kind, q.text);
                }
            }
            let worse = |a: Option<usize>, b: Option<usize>| a.unwrap_or(99) > b.unwrap_or(99);
            if verbose && (worse(ranks[2], ranks[0]) || worse(ranks[2], ranks[1])) {
                eprintln!("  hybrid ranks below a single list [{}] {:?}: vector {:?}, keyword {:?}, hybrid {:?}", q.kind, q.text, ranks[0], ranks[1], ranks[2]);
            }
        }

        println!(
            "\nretrieval: {} transcripts, {passages} passages, {} questions ({}), all-MiniLM-L6-v2, top {TOP_K} passages merged",
            set.transcripts.len(),
            set.questions.len(),
            kinds
                .iter()
                .enumerate()
                .map(|(k, name)| format!("{} {name}", scores[0][k].questions))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!("  {:<14} {:>9} {:>7}   recall@5 by kind: direct / paraphrase / keyword", "mode", "recall@5", "MRR");
        for (m, (_, name)) in MODES.iter().enumerate() {
            let all = scores[m][3];
            println!(
                "  {name:<14} {:>9.3} {:>7.3}   {:.3} / {:.3} / {:.3}",
                all.recall(),
                all.mrr(),
                scores[m][0].recall(),
                scores[m][1].recall(),
                scores[m][2].recall()
            );
        }
        let (v, k, h) = (scores[0][3], scores[1][3], scores[2][3]);
        let ok = h.recall() >= v.recall().max(k.recall()) && h.mrr() >= v.mrr().max(k.mrr());
        println!(
            "  hybrid >= the better single list on both figures: {}",
            if ok { "yes" } else { "NO" }
        );
    });
}
