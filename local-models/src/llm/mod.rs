//! Chat models: quantised GGUF files (the qwen2 and llama architectures) run by candle on
//! the CPU, with the tokenizer read from the same file.
//!
//! `requantize` makes the slow tensor types fast, `template` renders ChatML, `stop` holds
//! back text that may become a stop sequence, and `detokenize` turns tokens into text
//! pieces that are always whole characters.

mod detokenize;
mod requantize;
mod stop;
mod template;

use std::{
    fs::File,
    io::BufReader,
    ops::ControlFlow,
    path::Path,
    time::{Instant, SystemTime},
};

use candle_core::{
    Device, Tensor,
    quantized::{gguf_file, tokenizer::TokenizerFromGguf},
};
use candle_transformers::{
    generation::LogitsProcessor,
    models::{quantized_llama, quantized_qwen2},
};
use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

pub use requantize::{RequantizeReport, requantize, requantized_path};

/// Prompt tokens per forward pass: bounds the attention scores' memory on long prompts.
const PROMPT_CHUNK: usize = 512;
/// A mild penalty on tokens seen in the last [`REPEAT_WINDOW`]: small models otherwise fall
/// into loops on long outputs, which wastes the whole token budget.
const REPEAT_PENALTY: f32 = 1.1;
const REPEAT_WINDOW: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

#[derive(Debug, Clone)]
pub struct GenerationParams {
    pub max_tokens: usize,
    /// 0 is greedy.
    pub temperature: f64,
    pub top_p: Option<f64>,
    pub stop: Vec<String>,
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The end-of-turn token, or a stop sequence.
    Stop,
    Length,
    /// The caller stopped listening.
    Cancelled,
}

#[derive(Debug, Clone)]
pub struct Generation {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub finish_reason: FinishReason,
    pub prompt_seconds: f64,
    pub generation_seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{path} is not a readable GGUF file: {reason}")]
    Gguf { path: String, reason: String },
    #[error("{path}: architecture `{architecture}` is not served (qwen2 or llama)")]
    UnsupportedArchitecture { path: String, architecture: String },
    #[error("{path}: {reason}")]
    Tokenizer { path: String, reason: String },
}

impl LoadError {
    fn io(path: &Path, e: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("the prompt is {tokens} tokens, and this model takes at most {limit}")]
    PromptTooLong { tokens: usize, limit: usize },
    #[error("the model failed: {0}")]
    Model(String),
}

impl From<candle_core::Error> for GenerateError {
    fn from(e: candle_core::Error) -> Self {
        Self::Model(e.to_string())
    }
}

enum Weights {
    Qwen2(quantized_qwen2::ModelWeights),
    Llama(quantized_llama::ModelWeights),
}

impl Weights {
    fn forward(&mut self, tokens: &Tensor, index_pos: usize) -> candle_core::Result<Tensor> {
        match self {
            Self::Qwen2(m) => m.forward(tokens, index_pos),
            Self::Llama(m) => m.forward(tokens, index_pos),
        }
    }

    fn clear_kv_cache(&mut self) {
        match self {
            Self::Qwen2(m) => m.clear_kv_cache(),
            Self::Llama(m) => m.clear_kv_cache(),
        }
    }
}

pub struct ChatModel {
    id: String,
    weights: Weights,
    tokenizer: Tokenizer,
    template: template::ChatMl,
    /// Tokens that end the assistant's turn.
    end_of_turn: Vec<u32>,
    context_tokens: usize,
}

fn metadata_string(ct: &gguf_file::Content, key: &str) -> Option<String> {
    ct.metadata.get(key)?.to_string().ok().cloned()
}

fn metadata_u32(ct: &gguf_file::Content, key: &str) -> Option<u32> {
    ct.metadata.get(key)?.to_u32().ok()
}

/// The tokenizer the GGUF's metadata describes.
fn tokenizer_of(ct: &gguf_file::Content) -> candle_core::Result<Tokenizer> {
    let mut tokenizer = Tokenizer::from_gguf(ct)?;
    without_prefix_space(ct, &mut tokenizer);
    Ok(tokenizer)
}

/// candle builds pre-tokenizers it does not know (SmolLM2's `smollm`) as GPT-2's, which
/// puts a space before every text segment; the file says whether the model wants that.
fn without_prefix_space(ct: &gguf_file::Content, tokenizer: &mut Tokenizer) {
    use tokenizers::{
        decoders::byte_level::ByteLevel as Decoder, pre_tokenizers::byte_level::ByteLevel,
    };
    let add_space = ct
        .metadata
        .get("tokenizer.ggml.add_space_prefix")
        .and_then(|v| v.to_bool().ok());
    let pre = metadata_string(ct, "tokenizer.ggml.pre").unwrap_or_default();
    if add_space == Some(false)
        && !matches!(pre.as_str(), "qwen2" | "llama3" | "smaug-bpe" | "lfm2")
    {
        tokenizer.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
        tokenizer.with_decoder(Some(Decoder::new(false, true, true)));
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).ok()?.modified().ok()
}

impl ChatModel {
    /// Loads `path`, requantising it first (once) when it holds tensor types candle can only
    /// multiply slowly. `context_tokens` caps prompt plus completion below the model's own
    /// context, which bounds the KV cache.
    pub fn load(path: &Path, context_tokens: usize) -> Result<Self, LoadError> {
        let id = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let source = Self::fast_copy(path)?;
        let gguf = |reason: String| LoadError::Gguf {
            path: source.display().to_string(),
            reason,
        };
        let mut reader =
            BufReader::new(File::open(&source).map_err(|e| LoadError::io(&source, e))?);
        let content = gguf_file::Content::read(&mut reader).map_err(|e| gguf(e.to_string()))?;
        let architecture = metadata_string(&content, "general.architecture").unwrap_or_default();
        let chat_template =
            metadata_string(&content, "tokenizer.chat_template").unwrap_or_default();
        let template = template::ChatMl::from_template(&chat_template).ok_or_else(|| {
            LoadError::Tokenizer {
                path: path.display().to_string(),
                reason: "its chat template is not ChatML".into(),
            }
        })?;
        let tokenizer = tokenizer_of(&content).map_err(|e| LoadError::Tokenizer {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut end_of_turn: Vec<u32> = ["<|im_end|>", "<|endoftext|>"]
            .iter()
            .filter_map(|t| tokenizer.token_to_id(t))
            .collect();
        end_of_turn.extend(metadata_u32(&content, "tokenizer.ggml.eos_token_id"));
        let own_context = metadata_u32(&content, &format!("{architecture}.context_length"))
            .map_or(context_tokens, |n| n as usize);
        let weights = match architecture.as_str() {
            "qwen2" => Weights::Qwen2(
                quantized_qwen2::ModelWeights::from_gguf(content, &mut reader, &Device::Cpu)
                    .map_err(|e| gguf(e.to_string()))?,
            ),
            "llama" => Weights::Llama(
                quantized_llama::ModelWeights::from_gguf(content, &mut reader, &Device::Cpu)
                    .map_err(|e| gguf(e.to_string()))?,
            ),
            other => {
                return Err(LoadError::UnsupportedArchitecture {
                    path: path.display().to_string(),
                    architecture: other.to_owned(),
                });
            }
        };
        Ok(Self {
            id,
            weights,
            tokenizer,
            template,
            end_of_turn,
            context_tokens: context_tokens.min(own_context),
        })
    }

    /// `path` itself, or its requantised copy (made now if missing or older than `path`).
    fn fast_copy(path: &Path) -> Result<std::path::PathBuf, LoadError> {
        let mut reader = BufReader::new(File::open(path).map_err(|e| LoadError::io(path, e))?);
        let content = gguf_file::Content::read(&mut reader).map_err(|e| LoadError::Gguf {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        if !content
            .tensor_infos
            .values()
            .any(|t| requantize::is_slow(t.ggml_dtype))
        {
            return Ok(path.to_owned());
        }
        let copy = requantized_path(path);
        if modified(&copy).is_some_and(|c| modified(path).is_some_and(|s| c >= s)) {
            return Ok(copy);
        }
        tracing::info!(source = %path.display(), dest = %copy.display(), "requantising Q5_0/Q4_1 tensors to Q8_0 (once)");
        let report = requantize(path, &copy)?;
        tracing::info!(
            tensors = report.tensors_changed,
            secs = format!("{:.1}", report.seconds),
            "requantised"
        );
        Ok(copy)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn context_tokens(&self) -> usize {
        self.context_tokens
    }

    fn prompt(&self, messages: &[ChatMessage]) -> Result<Vec<u32>, GenerateError> {
        let text = self.template.render(messages);
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| GenerateError::Model(format!("tokenising the prompt: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    pub fn count_prompt_tokens(&self, messages: &[ChatMessage]) -> Result<usize, GenerateError> {
        Ok(self.prompt(messages)?.len())
    }

    /// Generates the assistant's reply, handing text to `on_text` as it is decoded.
    pub fn generate(
        &mut self,
        messages: &[ChatMessage],
        params: &GenerationParams,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Generation, GenerateError> {
        let prompt = self.prompt(messages)?;
        if prompt.len() >= self.context_tokens {
            return Err(GenerateError::PromptTooLong {
                tokens: prompt.len(),
                limit: self.context_tokens - 1,
            });
        }
        let budget = params.max_tokens.min(self.context_tokens - prompt.len());
        let started = Instant::now();
        self.weights.clear_kv_cache();
        let mut logits = None;
        for (i, chunk) in prompt.chunks(PROMPT_CHUNK).enumerate() {
            let input = Tensor::new(chunk, &Device::Cpu)?.unsqueeze(0)?;
            logits = Some(self.weights.forward(&input, i * PROMPT_CHUNK)?);
        }
        let prompt_seconds = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let temperature = (params.temperature > 0.0).then_some(params.temperature);
        let mut sampler = LogitsProcessor::new(params.seed, temperature, params.top_p);
        let mut text = detokenize::Detokenizer::default();
        let mut stops = stop::StopMatcher::new(&params.stop);
        let mut generated: Vec<u32> = Vec::new();
        let mut finish = FinishReason::Length;
        let mut by_stop_sequence = false;
        let mut logits = logits.ok_or_else(|| GenerateError::Model("an empty prompt".into()))?;
        while generated.len() < budget {
            let logits_1d = logits.squeeze(0)?;
            let recent = &generated[generated.len().saturating_sub(REPEAT_WINDOW)..];
            let logits_1d = if recent.is_empty() {
                logits_1d
            } else {
                candle_transformers::utils::apply_repeat_penalty(
                    &logits_1d,
                    REPEAT_PENALTY,
                    recent,
                )?
            };
            let next = sampler.sample(&logits_1d)?;
            if self.end_of_turn.contains(&next) {
                finish = FinishReason::Stop;
                break;
            }
            generated.push(next);
            let piece = text.push(&self.tokenizer, next)?;
            let (emit, stopped) = match stops.push(&piece) {
                stop::Step::Emit(t) => (t, false),
                stop::Step::Stopped(t) => (t, true),
            };
            if !emit.is_empty() && on_text(&emit).is_break() {
                finish = FinishReason::Cancelled;
                break;
            }
            if stopped {
                finish = FinishReason::Stop;
                by_stop_sequence = true;
                break;
            }
            let input = Tensor::new(&[next], &Device::Cpu)?.unsqueeze(0)?;
            logits = self
                .weights
                .forward(&input, prompt.len() + generated.len() - 1)?;
        }
        // Text held back is released unless a stop sequence ended it or nobody listens.
        if finish != FinishReason::Cancelled && !by_stop_sequence {
            let rest = format!("{}{}", stops.finish(), text.finish(&self.tokenizer)?);
            if !rest.is_empty() && on_text(&rest).is_break() {
                finish = FinishReason::Cancelled;
            }
        }
        Ok(Generation {
            prompt_tokens: prompt.len(),
            completion_tokens: generated.len(),
            finish_reason: finish,
            prompt_seconds,
            generation_seconds: started.elapsed().as_secs_f64(),
        })
    }
}

#[cfg(test)]
mod tests;
