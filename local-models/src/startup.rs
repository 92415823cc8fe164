//! Loading what the settings name, refusing to start with one line that names the missing
//! file and the command that installs it.

use std::{path::Path, sync::Arc, time::Instant};

use mediadocs_providers::embeddings::local::LocalEmbedder;
use mediadocs_settings::local_models::LocalModelsSettings;

use crate::{
    llm::ChatModel,
    server::{ChatPool, Models},
    whisper::WhisperModel,
};

const INSTALL: &str =
    "install the models with `scripts/lib/tools.sh models default` (or `models test`)";

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{var}: {path} does not exist; {INSTALL}")]
    Missing { var: &'static str, path: String },
    #[error("{var}: cannot load {path}: {reason}; {INSTALL}")]
    Load {
        var: &'static str,
        path: String,
        reason: String,
    },
    #[error(
        "no model to serve: set LOCAL_MODELS_WHISPER_DIR, LOCAL_MODELS_CHAT_MODEL or LOCAL_MODELS_EMBEDDINGS"
    )]
    Nothing,
}

fn exists(var: &'static str, path: &Path) -> Result<(), StartupError> {
    if path.exists() {
        Ok(())
    } else {
        Err(StartupError::Missing {
            var,
            path: path.display().to_string(),
        })
    }
}

pub fn load_models(settings: &LocalModelsSettings) -> Result<Models, StartupError> {
    let mut models = Models::default();
    if let Some(dir) = &settings.whisper_dir {
        const VAR: &str = "LOCAL_MODELS_WHISPER_DIR";
        exists(VAR, dir)?;
        let started = Instant::now();
        let whisper = WhisperModel::load(dir).map_err(|e| StartupError::Load {
            var: VAR,
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        tracing::info!(
            model = whisper.name(),
            secs = format!("{:.1}", started.elapsed().as_secs_f64()),
            "speech-to-text model loaded"
        );
        models.whisper = Some(Arc::new(whisper));
    }
    if let Some(path) = &settings.chat_model {
        const VAR: &str = "LOCAL_MODELS_CHAT_MODEL";
        exists(VAR, path)?;
        let started = Instant::now();
        let copies = (0..settings.limits.generation_concurrency)
            .map(|_| ChatModel::load(path, settings.limits.context_tokens))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StartupError::Load {
                var: VAR,
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        models.chat = ChatPool::new(copies);
        if let Some(pool) = &models.chat {
            tracing::info!(
                model = pool.id(),
                copies = settings.limits.generation_concurrency,
                secs = format!("{:.1}", started.elapsed().as_secs_f64()),
                "chat model loaded"
            );
        }
    }
    if let Some(embedder) = &settings.embedder {
        const VAR: &str = "LOCAL_EMBEDDER_DIR";
        exists(VAR, &embedder.dir)?;
        models.embedder = Some(
            LocalEmbedder::load(embedder).map_err(|e| StartupError::Load {
                var: VAR,
                path: embedder.dir.display().to_string(),
                reason: e.to_string(),
            })?,
        );
    }
    if models.whisper.is_none() && models.chat.is_none() && models.embedder.is_none() {
        return Err(StartupError::Nothing);
    }
    Ok(models)
}
