//! `POST /v1/embeddings`: a hashed bag of words, not a model.

use std::sync::atomic::Ordering::SeqCst;

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::{Sim, api_error, fnv1a, millis};

/// OpenAI's own default for text-embedding-3-small.
const DEFAULT_DIMENSION: usize = 1536;

#[derive(Deserialize)]
struct EmbeddingsBody {
    model: String,
    input: Input,
    dimensions: Option<usize>,
}

/// Token-id inputs are valid for OpenAI but unused by mediadocs, so they are refused.
#[derive(Deserialize)]
#[serde(untagged)]
enum Input {
    One(String),
    Many(Vec<String>),
}

pub(super) async fn create(State(sim): Sim, headers: HeaderMap, body: Bytes) -> Response {
    let _flight = sim.in_flight();
    sim.counters.embeddings_requests.fetch_add(1, SeqCst);
    if let Some(denied) = sim.deny(&headers) {
        return denied;
    }
    let request: EmbeddingsBody = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            let message = format!("invalid request body (input must be text): {e}");
            return api_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                None,
                &message,
            );
        }
    };
    let inputs = match request.input {
        Input::One(text) => vec![text],
        Input::Many(texts) => texts,
    };
    sim.counters
        .embedding_inputs
        .fetch_add(inputs.len() as u64, SeqCst);
    let knobs = sim.knobs().clone();
    tokio::time::sleep(millis(knobs.base_latency_ms)).await;

    let dimension = knobs
        .embedding_dimension
        .or(request.dimensions)
        .unwrap_or(DEFAULT_DIMENSION)
        .max(1);
    let mut data: Vec<_> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            json!({"object": "embedding", "index": index, "embedding": hashed_bag_of_words(text, dimension)})
        })
        .collect();
    if knobs.reverse_embeddings {
        data.reverse();
    }
    let words: usize = inputs.iter().map(|t| t.split_whitespace().count()).sum();
    Json(json!({
        "object": "list",
        "model": format!("simulated-{}", request.model),
        "data": data,
        "usage": {"prompt_tokens": words, "total_tokens": words},
    }))
    .into_response()
}

/// Each lowercase word adds ±1 to the bucket its hash picks; the sign also comes from the
/// hash, so collisions cancel out rather than pile up. L2-normalised unless all zero.
pub fn hashed_bag_of_words(text: &str, dimension: usize) -> Vec<f32> {
    let mut vector = vec![0.0f32; dimension];
    for word in text.split_whitespace() {
        let word: String = word
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        if word.is_empty() {
            continue;
        }
        let hash = fnv1a(word.as_bytes());
        let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
        vector[(hash % dimension as u64) as usize] += sign;
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_unit_length_deterministic_and_word_based() {
        let a = hashed_bag_of_words("The upload pipeline resumes", 64);
        assert_eq!(a, hashed_bag_of_words("the UPLOAD pipeline, resumes!", 64));
        assert!((a.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
        assert_ne!(a, hashed_bag_of_words("quarterly planning review", 64));
        assert!(hashed_bag_of_words("", 8).iter().all(|x| *x == 0.0));
    }
}
