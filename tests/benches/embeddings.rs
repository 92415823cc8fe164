//! Local embedder throughput: transcript-like passages of roughly 200-400 word pieces through
//! the in-process all-MiniLM-L6-v2, in the embedder's own batches, on this machine's cores.
//!
//!     scripts/lib/tools.sh install    # the model files, once
//!     cargo bench -p mediadocs-tests --bench embeddings
//!
//! Knobs: BENCH_RUNS (3), BENCH_PASSAGES (512 per run), BENCH_BATCH (32 texts per forward
//! pass), RAYON_NUM_THREADS (candle's threads; all cores when unset).

use std::time::Instant;

use mediadocs_providers::embeddings::{
    Embedder,
    local::{LocalEmbedder, LocalEmbedderSettings},
};
use mediadocs_tests::{stats::Spread, tools::repo_root};

/// The allocator of the worker, which embeds passages in batches.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const SPEAKERS: [&str; 4] = ["Ana", "Ben", "Chidi", "Dana"];
const CLAUSES: [&str; 12] = [
    "so the upload finished but the checksum on part seven did not match",
    "um, I think we should retry the transcription with the other provider",
    "can you share the slides from last Thursday's planning meeting",
    "the customer asked whether the summary can include action items",
    "we moved the deploy to Friday because QA needs another day",
    "right, and the search results were off because the vectors were stale",
    "let's make sure the migration runs before the worker restarts",
    "okay, next item: the billing dashboard shows the wrong currency",
    "I'll write that down and follow up with the infrastructure team",
    "the recording cuts out around minute twelve, probably the network",
    "yeah, that makes sense, let's keep the old endpoint for a month",
    "does anyone know who owns the webhook signing keys right now",
];

/// Passage `n`: 9 to 17 speaker turns, 209 to 401 word pieces (mean 303; three in four are
/// truncated to the model's 256), varied but deterministic.
fn passage(n: usize) -> String {
    let turns = 9 + n % 9;
    (0..turns)
        .map(|t| {
            let minute = (n * 7 + t) % 60;
            let speaker = SPEAKERS[(n + t) % SPEAKERS.len()];
            let clause = CLAUSES[(n * 5 + t * 7) % CLAUSES.len()];
            format!("[00:{minute:02}:{:02}] {speaker}: {clause}.", (t * 13) % 60)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    let runs = knob("BENCH_RUNS", 3);
    let count = knob("BENCH_PASSAGES", 512) as usize;
    let batch_size = knob("BENCH_BATCH", 32) as usize;
    let settings = LocalEmbedderSettings {
        dir: repo_root().join(".tools/models/all-MiniLM-L6-v2"),
        batch_size,
        max_tokens: 256,
    };
    let passages: Vec<String> = (0..count).map(passage).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let started = Instant::now();
        let embedder = LocalEmbedder::load(&settings).unwrap_or_else(|e| panic!("{e}"));
        let load_ms = started.elapsed().as_secs_f64() * 1e3;
        // Warm up: first-touch of the weights and rayon's threads.
        embedder
            .embed(&passages[..batch_size.min(count)])
            .await
            .unwrap();

        let mut per_second = Vec::new();
        for r in 0..runs {
            let started = Instant::now();
            let vectors = embedder.embed(&passages).await.unwrap();
            let secs = started.elapsed().as_secs_f64();
            assert_eq!(vectors.len(), count);
            per_second.push(count as f64 / secs);
            eprintln!("  run {r}: {count} passages in {secs:.2} s");
        }
        let per_passage: Vec<f64> = per_second.iter().map(|p| 1e3 / p).collect();
        println!(
            "\nembeddings: {runs} runs of {count} passages, batches of {batch_size}, {} build, \
             {} cores, model load {load_ms:.0} ms",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            std::thread::available_parallelism().map_or(0, |n| n.get()),
        );
        println!("  passages per second      {}", Spread::of(&per_second));
        println!("  ms per passage           {}", Spread::of(&per_passage));
    });
}
