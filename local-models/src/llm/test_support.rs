//! Model files and a shared SmolLM2 for the tests.

use super::{ChatMessage, ChatModel, GenerationParams, Role};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

pub(crate) const SMOLLM: &str = "smollm2-135m-instruct-q4_1.gguf";
pub(crate) const QWEN: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";

/// `MEDIADOCS_MODELS_DIR`, else `.tools/models` where `scripts/lib/tools.sh` installs them.
pub(crate) fn models_dir() -> PathBuf {
    std::env::var_os("MEDIADOCS_MODELS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/models"),
        PathBuf::from,
    )
}

pub(crate) fn model_path(name: &str) -> PathBuf {
    let path = models_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run scripts/lib/tools.sh install, or set MEDIADOCS_MODELS_DIR",
        path.display()
    );
    path
}

/// One SmolLM2 for all generation tests: loading is the slow part, and running them one at a
/// time keeps their timings meaningful on two cores.
pub(crate) fn smollm() -> MutexGuard<'static, ChatModel> {
    static MODEL: OnceLock<Mutex<ChatModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| Mutex::new(ChatModel::load(&model_path(SMOLLM), 2048).unwrap()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn greedy(max_tokens: usize) -> GenerationParams {
    GenerationParams {
        max_tokens,
        temperature: 0.0,
        top_p: None,
        stop: vec![],
        seed: 0,
    }
}

pub(crate) fn user(text: &str) -> ChatMessage {
    ChatMessage::new(Role::User, text)
}
