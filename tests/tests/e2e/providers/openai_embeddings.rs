//! The OpenAI-compatible embedder against the simulator: batching, order, dimension checks
//! and error mapping.

use std::{num::NonZeroUsize, time::Duration};

use mediadocs_dev::openai::{OpenAiSimulator, hashed_bag_of_words};
use mediadocs_providers::embeddings::{
    Embedder, EmbeddingError,
    openai::{OpenAiEmbedder, OpenAiEmbedderSettings},
};

const DIMENSION: usize = 256;

fn settings(sim: &OpenAiSimulator) -> OpenAiEmbedderSettings {
    OpenAiEmbedderSettings {
        base_url: sim.base_url().parse().unwrap(),
        api_key: None,
        model: "text-embedding-3-small".into(),
        dimension: DIMENSION,
        batch_size: NonZeroUsize::new(128).unwrap(),
        timeout: Duration::from_secs(10),
    }
}

fn texts(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("passage {i} about topic {}", i % 7))
        .collect()
}

#[tokio::test]
async fn inputs_are_batched_and_vectors_come_back_in_input_order() {
    let sim = OpenAiSimulator::start().await;
    // Answers arrive reversed, so order must come from each item's `index`.
    sim.set(|k| k.reverse_embeddings = true);
    let embedder = OpenAiEmbedder::new(&settings(&sim)).unwrap();
    let texts = texts(300);

    let vectors = embedder.embed(&texts).await.unwrap();

    assert_eq!(vectors.len(), 300);
    for (text, vector) in texts.iter().zip(&vectors) {
        assert_eq!(
            *vector,
            hashed_bag_of_words(text, DIMENSION),
            "vector for {text:?}"
        );
    }
    let calls = sim.calls();
    assert_eq!(calls.embeddings_requests, 3, "128 + 128 + 44");
    assert_eq!(calls.embedding_inputs, 300);
    assert_eq!(embedder.dimension(), DIMENSION);
    assert_eq!(embedder.model(), "text-embedding-3-small");
}

#[tokio::test]
async fn no_texts_means_no_request() {
    let sim = OpenAiSimulator::start().await;
    let embedder = OpenAiEmbedder::new(&settings(&sim)).unwrap();

    assert!(embedder.embed(&[]).await.unwrap().is_empty());
    assert_eq!(sim.calls().embeddings_requests, 0);
}

#[tokio::test]
async fn vectors_of_the_wrong_dimension_are_refused() {
    let sim = OpenAiSimulator::start().await;
    sim.set(|k| k.embedding_dimension = Some(8));
    let embedder = OpenAiEmbedder::new(&settings(&sim)).unwrap();

    let error = embedder.embed(&texts(2)).await.unwrap_err();

    assert!(matches!(error, EmbeddingError::Malformed(_)), "{error}");
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn a_wrong_key_is_rejected_without_retries() {
    let sim = OpenAiSimulator::start().await;
    sim.set(|k| k.api_key = Some("sk-right".into()));
    let mut settings = settings(&sim);
    settings.api_key = Some("sk-wrong".to_owned().into());

    let error = OpenAiEmbedder::new(&settings)
        .unwrap()
        .embed(&texts(2))
        .await
        .unwrap_err();

    assert!(matches!(error, EmbeddingError::Rejected(_)), "{error}");
    assert!(!error.is_retryable());
    assert_eq!(sim.calls().embeddings_requests, 1);
}

#[tokio::test]
async fn an_unreachable_server_is_retryable() {
    let port = mediadocs_tests::wait::free_port();
    let mut settings = OpenAiEmbedderSettings {
        base_url: format!("http://127.0.0.1:{port}/v1").parse().unwrap(),
        ..settings(&OpenAiSimulator::start().await)
    };
    settings.timeout = Duration::from_secs(5);

    let error = OpenAiEmbedder::new(&settings)
        .unwrap()
        .embed(&texts(1))
        .await
        .unwrap_err();

    assert!(matches!(error, EmbeddingError::Unavailable(_)), "{error}");
    assert!(error.is_retryable());
}
