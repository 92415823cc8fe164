//! `POST /v1/embeddings`, as OpenAI documents it, with the MiniLM model the API and worker
//! also run in-process: for a deployment that keeps every model in one place.

use std::sync::Arc;

use axum::{Json, extract::State};
use base64::Engine;
use mediadocs_providers::embeddings::Embedder;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, error::ApiError};

/// Inputs per request, as OpenAI caps them.
const MAX_INPUTS: usize = 2048;

#[derive(Deserialize)]
struct EmbeddingsRequest {
    model: String,
    input: Input,
    encoding_format: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Input {
    One(String),
    Many(Vec<String>),
}

pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let Some(embedder) = state.models.embedder.clone() else {
        return Err(ApiError::unknown_model("embeddings"));
    };
    let request: EmbeddingsRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))?;
    if request.model != embedder.model() {
        return Err(ApiError::unknown_model(&request.model));
    }
    let inputs = match request.input {
        Input::One(s) => vec![s],
        Input::Many(v) => v,
    };
    if inputs.is_empty() || inputs.len() > MAX_INPUTS || inputs.iter().any(|s| s.is_empty()) {
        return Err(ApiError::invalid(
            "input",
            format!("input must be 1 to {MAX_INPUTS} non-empty strings"),
        ));
    }
    let base64 = match request.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "encoding_format",
                format!("encoding_format `{other}` is neither float nor base64"),
            ));
        }
    };
    let ticket = state
        .embeddings
        .admit()
        .map_err(|full| ApiError::busy("embedding", full.retry_after))?;
    let _running = ticket.run().await;
    let vectors = embedder
        .embed(&inputs)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    // Word pieces are what the model counts; whitespace words are a close, cheap stand-in.
    let tokens: usize = inputs.iter().map(|s| s.split_whitespace().count()).sum();
    let data: Vec<Value> = vectors
        .into_iter()
        .enumerate()
        .map(|(index, v)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                Value::from(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({ "object": "embedding", "index": index, "embedding": embedding })
        })
        .collect();
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "model": embedder.model(),
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    })))
}
