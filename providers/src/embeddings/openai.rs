//! Embeddings from an OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, Ollama, vLLM,
//! text-embeddings-inference), through async-openai with the same retry stack as the LLM.

use async_openai::{
    Client,
    config::OpenAIConfig,
    types::embeddings::{CreateEmbeddingRequest, Embedding, EmbeddingInput},
};
pub use mediadocs_settings::embeddings::OpenAiEmbedderSettings;
use tokio::time::{Instant, timeout_at};

use super::{Embedder, EmbeddingError};
use crate::llm::{LlmError, transport};

/// Retries of 429/5xx within one batch; Temporal retries the activity beyond that.
const MAX_RETRIES: usize = 3;

#[derive(Debug, Clone)]
pub struct OpenAiEmbedder {
    client: Client<OpenAIConfig>,
    settings: OpenAiEmbedderSettings,
}

impl OpenAiEmbedder {
    pub fn new(settings: &OpenAiEmbedderSettings) -> Result<Self, EmbeddingError> {
        let client = transport::client(&settings.base_url, settings.api_key.as_ref(), MAX_RETRIES)
            .map_err(|e| EmbeddingError::Rejected(e.to_string()))?;
        Ok(Self {
            client,
            settings: settings.clone(),
        })
    }

    async fn embed_batch(&self, batch: &[String]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        let request = CreateEmbeddingRequest {
            model: self.settings.model.clone(),
            input: EmbeddingInput::StringArray(batch.to_vec()),
            dimensions: Some(self.settings.dimension as u32),
            ..Default::default()
        };
        let deadline = Instant::now() + self.settings.timeout;
        let embeddings = self.client.embeddings();
        let call = transport::with_deadline(deadline, embeddings.create(request));
        let response = timeout_at(deadline, call)
            .await
            .map_err(|_| {
                EmbeddingError::Unavailable(format!("no answer within {:?}", self.settings.timeout))
            })?
            .map_err(|e| embedding_error(LlmError::from_openai(e)))?;
        in_input_order(response.data, batch.len(), self.settings.dimension)
    }
}

#[async_trait::async_trait]
impl Embedder for OpenAiEmbedder {
    fn model(&self) -> &str {
        &self.settings.model
    }

    fn dimension(&self) -> usize {
        self.settings.dimension
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.settings.batch_size.get()) {
            vectors.extend(self.embed_batch(batch).await?);
        }
        Ok(vectors)
    }
}

fn embedding_error(error: LlmError) -> EmbeddingError {
    match error {
        // A body that does not parse is most often a proxy's error page: worth another try,
        // unlike a well-formed answer of the wrong shape (see `in_input_order`).
        e if e.is_retryable() => EmbeddingError::Unavailable(e.to_string()),
        e => EmbeddingError::Rejected(e.to_string()),
    }
}

/// Servers may answer in any order; `index` says which input each vector belongs to.
fn in_input_order(
    data: Vec<Embedding>,
    count: usize,
    dimension: usize,
) -> Result<Vec<Vec<f32>>, EmbeddingError> {
    if data.len() != count {
        return Err(EmbeddingError::Malformed(format!(
            "{} vectors for {count} inputs",
            data.len()
        )));
    }
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; count];
    for item in data {
        let slot = slots.get_mut(item.index as usize).ok_or_else(|| {
            EmbeddingError::Malformed(format!("index {} out of range", item.index))
        })?;
        if slot.is_some() {
            return Err(EmbeddingError::Malformed(format!(
                "index {} twice",
                item.index
            )));
        }
        if item.embedding.len() != dimension {
            return Err(EmbeddingError::Malformed(format!(
                "a vector of {} floats, expected {dimension}",
                item.embedding.len()
            )));
        }
        *slot = Some(item.embedding);
    }
    // Every slot is filled: as many items as slots, none out of range, none twice.
    Ok(slots.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(index: u32, embedding: Vec<f32>) -> Embedding {
        Embedding {
            index,
            object: "embedding".into(),
            embedding,
        }
    }

    #[test]
    fn vectors_are_put_back_in_input_order() {
        let data = vec![item(1, vec![1.0, 1.0]), item(0, vec![0.0, 0.0])];
        assert_eq!(
            in_input_order(data, 2, 2).unwrap(),
            vec![vec![0.0, 0.0], vec![1.0, 1.0]]
        );
    }

    #[test]
    fn wrong_count_dimension_or_indices_are_malformed() {
        let bad = [
            (vec![item(0, vec![0.0, 0.0])], 2, 2),
            (vec![item(0, vec![0.0])], 1, 2),
            (vec![item(0, vec![0.0, 0.0]), item(0, vec![0.0, 0.0])], 2, 2),
            (vec![item(5, vec![0.0, 0.0])], 1, 2),
        ];
        for (data, count, dim) in bad {
            let error = in_input_order(data, count, dim).unwrap_err();
            assert!(matches!(error, EmbeddingError::Malformed(_)), "{error}");
            assert!(!error.is_retryable());
        }
    }
}
