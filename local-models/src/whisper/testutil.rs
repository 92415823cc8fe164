//! Shared fixtures: the installed models, loaded once per test binary because parsing is slow.

use std::path::PathBuf;
use std::sync::OnceLock;

use super::WhisperModel;
use super::ct2::Ct2Model;

pub fn models_dir() -> PathBuf {
    std::env::var_os("MEDIADOCS_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/models"))
}

pub fn tiny_en_dir() -> PathBuf {
    models_dir().join("whisper-tiny.en-ct2")
}

pub fn ct2_tiny_en() -> Ct2Model {
    let bytes =
        std::fs::read(tiny_en_dir().join("model.bin")).expect("tiny.en model.bin installed");
    Ct2Model::parse(&bytes).unwrap()
}

pub fn tiny_en() -> &'static WhisperModel {
    static MODEL: OnceLock<WhisperModel> = OnceLock::new();
    MODEL.get_or_init(|| WhisperModel::load(&tiny_en_dir()).unwrap())
}

pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel)
}

pub fn decode_file(path: &std::path::Path) -> Vec<f32> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    mediadocs_audio::decode_mono_16k(Box::new(f)).unwrap()
}
