//! TEMPORARY interface stub (replaced by the llm branch).
use std::{ops::ControlFlow, path::Path};
pub struct ChatModel {
    id: String,
    ctx: usize,
}
impl ChatModel {
    pub fn load(path: &Path, context_tokens: usize) -> Result<Self, LoadError> {
        Ok(Self {
            id: path.file_stem().unwrap().to_string_lossy().into(),
            ctx: context_tokens,
        })
    }
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn context_tokens(&self) -> usize {
        self.ctx
    }
    pub fn count_prompt_tokens(&self, m: &[ChatMessage]) -> Result<usize, GenerateError> {
        Ok(m.iter().map(|m| m.content.split_whitespace().count()).sum())
    }
    pub fn generate(
        &mut self,
        m: &[ChatMessage],
        p: &GenerationParams,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Generation, GenerateError> {
        let n = self.count_prompt_tokens(m)?;
        if n >= self.ctx {
            return Err(GenerateError::PromptTooLong {
                tokens: n,
                limit: self.ctx,
            });
        }
        let mut c = 0;
        let mut fr = FinishReason::Stop;
        for w in ["Hello", " from", " the", " stub", "."] {
            if c >= p.max_tokens {
                fr = FinishReason::Length;
                break;
            }
            c += 1;
            if on_text(w).is_break() {
                fr = FinishReason::Cancelled;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Ok(Generation {
            prompt_tokens: n,
            completion_tokens: c,
            finish_reason: fr,
            prompt_seconds: 0.0,
            generation_seconds: 0.0,
        })
    }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}
#[derive(Debug, Clone)]
pub struct GenerationParams {
    pub max_tokens: usize,
    pub temperature: f64,
    pub top_p: Option<f64>,
    pub stop: Vec<String>,
    pub seed: u64,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
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
    #[error("x")]
    X,
}
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("prompt too long")]
    PromptTooLong { tokens: usize, limit: usize },
    #[error("{0}")]
    Model(String),
}
