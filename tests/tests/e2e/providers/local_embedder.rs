//! The in-process all-MiniLM-L6-v2 embedder against vectors sentence-transformers computed from
//! the same files (`tests/fixtures/embeddings/make_reference.py`).

use mediadocs_providers::embeddings::{
    Embedder, EmbeddingError,
    local::{LocalEmbedder, LocalEmbedderSettings},
};
use mediadocs_tests::tools::repo_root;

struct Reference {
    sentences: Vec<String>,
    vectors: Vec<Vec<f32>>,
}

fn reference() -> Reference {
    let path = repo_root().join("tests/fixtures/embeddings/minilm_reference.json");
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    Reference {
        sentences: serde_json::from_value(json["sentences"].clone()).unwrap(),
        vectors: serde_json::from_value(json["vectors"].clone()).unwrap(),
    }
}

fn settings() -> LocalEmbedderSettings {
    LocalEmbedderSettings {
        dir: repo_root().join(".tools/models/all-MiniLM-L6-v2"),
        batch_size: 32,
        max_tokens: 256,
    }
}

fn embedder() -> LocalEmbedder {
    LocalEmbedder::load(&settings()).unwrap_or_else(|e| panic!("{e}"))
}

// In f64, so that the figures near 1 are not rounded to it.
fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    dot / (norm(a) * norm(b))
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt()
}

#[tokio::test]
async fn matches_sentence_transformers() {
    let reference = reference();
    let embedder = embedder();
    assert_eq!(embedder.model(), "all-MiniLM-L6-v2");
    assert_eq!(embedder.dimension(), 384);

    let vectors = embedder.embed(&reference.sentences).await.unwrap();
    assert_eq!(vectors.len(), reference.sentences.len());
    let mut worst = f64::INFINITY;
    for ((sentence, ours), theirs) in reference
        .sentences
        .iter()
        .zip(&vectors)
        .zip(&reference.vectors)
    {
        let head: String = sentence.chars().take(40).collect();
        assert_eq!(ours.len(), 384, "{head:?}");
        assert!(
            (norm(ours) - 1.0).abs() < 1e-4,
            "{head:?}: norm {}",
            norm(ours)
        );
        let similarity = cosine(ours, theirs);
        assert!(
            similarity >= 0.999,
            "{head:?}: cosine {similarity} to the reference"
        );
        worst = worst.min(similarity);
    }
    eprintln!(
        "lowest cosine to sentence-transformers: {worst:.9} (1 - cos = {:.1e})",
        1.0 - worst
    );
}

#[tokio::test]
async fn batching_does_not_change_the_vectors() {
    let reference = reference();
    // In one batch the short sentences are padded to the long one's 256 tokens; alone, never.
    let embedder = embedder();
    let together = embedder.embed(&reference.sentences).await.unwrap();
    for (sentence, batched) in reference.sentences.iter().zip(&together) {
        let alone = embedder
            .embed(std::slice::from_ref(sentence))
            .await
            .unwrap();
        let similarity = cosine(&alone[0], batched);
        assert!(
            similarity >= 0.9999,
            "{sentence:?}: cosine {similarity} alone vs batched"
        );
    }
    assert!(embedder.embed(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_missing_model_directory_says_how_to_install_it() {
    let mut settings = settings();
    settings.dir = repo_root().join(".tools/models/no-such-model");
    match LocalEmbedder::load(&settings) {
        Err(EmbeddingError::Model(message)) => {
            assert!(message.contains("no-such-model"), "{message}");
            assert!(
                message.contains("scripts/lib/tools.sh install"),
                "{message}"
            );
        }
        Err(other) => panic!("expected EmbeddingError::Model, got {other}"),
        Ok(_) => panic!("loaded a model from a directory that does not exist"),
    }
}
