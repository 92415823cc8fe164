//! Loading a GGUF chat model: architecture, tokenizer, template, then the weights.

use super::LoadError;
use super::requantize::{ensure_cached, needs_requantize, read_gguf};
use super::template::ChatTemplate;
use super::tokenizer::{ChatTokenizer, metadata_str};
use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_qwen2};
use std::path::Path;
use std::time::Instant;

pub(crate) enum Weights {
    Qwen2(quantized_qwen2::ModelWeights),
    Llama(quantized_llama::ModelWeights),
}

impl Weights {
    /// Logits for the last position of `ids`, which sit at `index_pos` in the sequence.
    pub(crate) fn forward(
        &mut self,
        ids: &Tensor,
        index_pos: usize,
    ) -> candle_core::Result<Tensor> {
        match self {
            Weights::Qwen2(m) => m.forward(ids, index_pos),
            Weights::Llama(m) => m.forward(ids, index_pos),
        }
    }

    pub(crate) fn clear_kv_cache(&mut self) {
        match self {
            Weights::Qwen2(m) => m.clear_kv_cache(),
            Weights::Llama(m) => m.clear_kv_cache(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Architecture {
    Qwen2,
    Llama,
}

impl Architecture {
    fn of(content: &gguf_file::Content) -> Result<Self, LoadError> {
        match metadata_str(content, "general.architecture") {
            Some("qwen2") => Ok(Architecture::Qwen2),
            Some("llama") => Ok(Architecture::Llama),
            other => Err(LoadError::UnsupportedArchitecture(
                other.unwrap_or("(none given)").to_string(),
            )),
        }
    }

    /// The longest sequence the model's position tables cover.
    fn context_limit(self, content: &gguf_file::Content) -> usize {
        let key = match self {
            Architecture::Qwen2 => "qwen2.context_length",
            Architecture::Llama => "llama.context_length",
        };
        let trained = content
            .metadata
            .get(key)
            .and_then(|v| v.to_u32().ok())
            .map_or(usize::MAX, |n| n as usize);
        match self {
            // candle's llama precomputes RoPE for a fixed length whatever the file says.
            Architecture::Llama => trained.min(quantized_llama::MAX_SEQ_LEN),
            // qwen2 computes its tables from the file's context_length, which from_gguf requires.
            Architecture::Qwen2 => trained,
        }
    }
}

pub struct ChatModel {
    pub(crate) id: String,
    pub(crate) weights: Weights,
    pub(crate) tokenizer: ChatTokenizer,
    pub(crate) template: ChatTemplate,
    pub(crate) context_tokens: usize,
    pub(crate) device: Device,
}

impl ChatModel {
    /// Loads a GGUF (architecture qwen2 or llama, ChatML template). A file with tensor types
    /// candle runs without SIMD is requantised to Q8_0 once, cached as `<stem>.q8_0.gguf`
    /// beside it (see requantize.rs). `context_tokens` caps prompt + completion, to bound the
    /// KV cache; it is lowered to the model's own limit if above it.
    pub fn load(path: &Path, context_tokens: usize) -> Result<Self, LoadError> {
        Self::load_with(path, context_tokens, true)
    }

    /// `requantise: false` runs the file's tensors as they are (to measure what it saves).
    pub(crate) fn load_with(
        path: &Path,
        context_tokens: usize,
        requantise: bool,
    ) -> Result<Self, LoadError> {
        let started = Instant::now();
        let (_, content) = read_gguf(path)?;
        let arch = Architecture::of(&content)?;
        let tokenizer = ChatTokenizer::from_gguf(&content)?;
        let jinja = metadata_str(&content, "tokenizer.chat_template").ok_or_else(|| {
            LoadError::Template("the file has no tokenizer.chat_template".to_string())
        })?;
        let template = ChatTemplate::from_gguf_template(jinja).map_err(LoadError::Template)?;
        let limit = arch.context_limit(&content);

        let weights_path = if requantise && needs_requantize(&content) {
            ensure_cached(path, &content).unwrap_or_else(|e| {
                // A read-only model directory should not make the model unusable, only slow.
                tracing::warn!(error = %e, "could not requantise; using the original tensors");
                path.to_path_buf()
            })
        } else {
            path.to_path_buf()
        };
        let device = Device::Cpu;
        let weights = load_weights(&weights_path, arch, &device)?;

        let id = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        // Not clamp(1, limit): a file declaring a context of 0 must not panic here.
        let context_tokens = context_tokens.min(limit).max(1);
        tracing::info!(
            model = %id,
            weights = %weights_path.display(),
            context_tokens,
            threads = candle_core::utils::get_num_threads(),
            seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
            "chat model loaded"
        );
        Ok(Self {
            id,
            weights,
            tokenizer,
            template,
            context_tokens,
            device,
        })
    }

    /// The source file's stem, e.g. "qwen2.5-coder-0.5b-instruct-q4_k_m".
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn context_tokens(&self) -> usize {
        self.context_tokens
    }
}

fn load_weights(path: &Path, arch: Architecture, device: &Device) -> Result<Weights, LoadError> {
    let (mut reader, content) = read_gguf(path)?;
    let fail = |e: candle_core::Error| LoadError::Weights(format!("{}: {e}", path.display()));
    Ok(match arch {
        Architecture::Qwen2 => Weights::Qwen2(
            quantized_qwen2::ModelWeights::from_gguf(content, &mut reader, device).map_err(fail)?,
        ),
        Architecture::Llama => Weights::Llama(
            quantized_llama::ModelWeights::from_gguf(content, &mut reader, device).map_err(fail)?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{GgmlDType, QTensor};

    fn write_gguf(path: &Path, arch: &str) {
        let arch = gguf_file::Value::String(arch.to_string());
        let tensor = QTensor::quantize(
            &Tensor::zeros((2, 32), candle_core::DType::F32, &Device::Cpu).unwrap(),
            GgmlDType::Q8_0,
        )
        .unwrap();
        let mut file = std::fs::File::create(path).unwrap();
        gguf_file::write(
            &mut file,
            &[("general.architecture", &arch)],
            &[("token_embd.weight", &tensor)],
        )
        .unwrap();
    }

    #[test]
    fn a_missing_file_is_named() {
        let path = Path::new("/nonexistent/model.gguf");
        let err = ChatModel::load(path, 512).err().unwrap();
        assert!(matches!(err, LoadError::NotFound(_)), "{err:?}");
        assert!(err.to_string().contains("/nonexistent/model.gguf"));
    }

    #[test]
    fn a_file_that_is_not_gguf_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.gguf");
        std::fs::write(&path, b"this is not a model").unwrap();
        let err = ChatModel::load(&path, 512).err().unwrap();
        assert!(matches!(err, LoadError::NotGguf { .. }), "{err:?}");
    }

    #[test]
    fn an_unsupported_architecture_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gemma.gguf");
        write_gguf(&path, "gemma3");
        let err = ChatModel::load(&path, 512).err().unwrap();
        assert!(
            matches!(&err, LoadError::UnsupportedArchitecture(a) if a == "gemma3"),
            "{err:?}"
        );
        assert!(err.to_string().contains("gemma3"));
    }

    #[test]
    fn the_context_is_capped_at_the_model_limit() {
        let path = crate::llm::test_support::model_path(crate::llm::test_support::SMOLLM);
        let model = ChatModel::load(&path, 1_000_000).unwrap();
        // SmolLM2 says 8192, but candle's llama has RoPE tables for MAX_SEQ_LEN only.
        assert_eq!(model.context_tokens(), quantized_llama::MAX_SEQ_LEN);
        assert_eq!(model.id(), "smollm2-135m-instruct-q4_1");
    }
}
