//! Rewriting the tensor types candle multiplies with scalar code only. On x86 candle has SIMD
//! dot products for Q4_0, Q8_0 and the K-quants, but Q4_1, Q5_0 and Q5_1 fall back to a
//! scalar loop, several times slower. Q8_0 keeps (more than) their precision and has fast
//! kernels, at the cost of a bigger file, so such files are converted once and the result cached.

use super::LoadError;
use candle_core::Device;
use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

#[derive(Debug, Clone)]
pub struct RequantizeReport {
    pub tensors_changed: usize,
    pub seconds: f64,
}

const SCALAR_ONLY: [GgmlDType; 3] = [GgmlDType::Q4_1, GgmlDType::Q5_0, GgmlDType::Q5_1];

pub(crate) fn is_scalar_only(dtype: GgmlDType) -> bool {
    SCALAR_ONLY.contains(&dtype)
}

pub(crate) fn needs_requantize(content: &gguf_file::Content) -> bool {
    content
        .tensor_infos
        .values()
        .any(|t| is_scalar_only(t.ggml_dtype))
}

/// Writes a copy of `source` to `dest` with every Q4_1/Q5_0/Q5_1 tensor as Q8_0 and everything
/// else byte for byte. `dest` appears only complete: it is written under a temporary name in
/// the same directory and renamed.
pub fn requantize(source: &Path, dest: &Path) -> Result<RequantizeReport, LoadError> {
    let started = Instant::now();
    let (mut reader, content) = read_gguf(source)?;
    let fail = |e: candle_core::Error| LoadError::Requantize {
        path: source.to_path_buf(),
        reason: e.to_string(),
    };

    // File order, so the copy is laid out like the source (HashMap order is arbitrary).
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort_by_key(|n| content.tensor_infos[*n].offset);
    let mut tensors = Vec::with_capacity(names.len());
    let mut changed = 0;
    for name in names {
        let tensor = content
            .tensor(&mut reader, name, &Device::Cpu)
            .map_err(fail)?;
        let tensor = if is_scalar_only(tensor.dtype()) {
            changed += 1;
            let values = tensor.dequantize(&Device::Cpu).map_err(fail)?;
            QTensor::quantize(&values, GgmlDType::Q8_0).map_err(fail)?
        } else {
            tensor
        };
        tensors.push((name.as_str(), tensor));
    }

    // candle's writer always aligns tensor data to 32 bytes; a different declared alignment
    // would make readers look for the data in the wrong place.
    let metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .filter(|(k, _)| k.as_str() != "general.alignment")
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    write_atomically(dest, |w| {
        gguf_file::write(w, &metadata, &tensor_refs).map_err(|e| e.to_string())
    })?;
    Ok(RequantizeReport {
        tensors_changed: changed,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Where `load` caches the requantised copy of `source`: `<stem>.q8_0.gguf` beside it.
pub(crate) fn cache_path(source: &Path) -> PathBuf {
    let stem = source.file_stem().unwrap_or_default().to_string_lossy();
    source.with_file_name(format!("{stem}.q8_0.gguf"))
}

/// The requantised copy of `source`, made now unless a cached one is newer than the source
/// and still describes the same tensors.
pub(crate) fn ensure_cached(
    source: &Path,
    source_content: &gguf_file::Content,
) -> Result<PathBuf, LoadError> {
    let cached = cache_path(source);
    if is_fresh(source, &cached) && matches_source(&cached, source_content) {
        tracing::debug!(path = %cached.display(), "using the requantised copy");
        return Ok(cached);
    }
    tracing::info!(
        source = %source.display(),
        dest = %cached.display(),
        "requantising Q4_1/Q5_0/Q5_1 tensors to Q8_0 (candle has no SIMD kernels for them); this happens once"
    );
    let report = requantize(source, &cached)?;
    tracing::info!(
        tensors = report.tensors_changed,
        seconds = format!("{:.1}", report.seconds),
        "requantised"
    );
    Ok(cached)
}

pub(crate) fn read_gguf(path: &Path) -> Result<(BufReader<File>, gguf_file::Content), LoadError> {
    let file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => LoadError::NotFound(path.to_path_buf()),
        _ => LoadError::Io {
            path: path.to_path_buf(),
            source: e,
        },
    })?;
    let mut reader = BufReader::new(file);
    let content = gguf_file::Content::read(&mut reader).map_err(|e| LoadError::NotGguf {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok((reader, content))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn is_fresh(source: &Path, cached: &Path) -> bool {
    match (modified(source), modified(cached)) {
        (Some(s), Some(c)) => c >= s,
        _ => false,
    }
}

/// A cheap check (the header only) that a cached copy was made from this source and finished
/// its job, so a copy from another file of the same name or another tool is not trusted.
fn matches_source(cached: &Path, source: &gguf_file::Content) -> bool {
    let Ok((_, content)) = read_gguf(cached) else {
        return false;
    };
    content.tensor_infos.len() == source.tensor_infos.len()
        && content.tensor_infos.iter().all(|(name, info)| {
            source
                .tensor_infos
                .get(name)
                .is_some_and(|s| s.shape == info.shape)
                && !is_scalar_only(info.ggml_dtype)
        })
}

fn write_atomically(
    dest: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<(), String>,
) -> Result<(), LoadError> {
    let fail = |reason: String| LoadError::Requantize {
        path: dest.to_path_buf(),
        reason,
    };
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let file_name = dest.file_name().unwrap_or_default().to_string_lossy();
    // Unique per writer, so two processes requantising at once do not write into one file.
    let tmp = dest.with_file_name(format!(".{file_name}.{}-{nanos}.tmp", std::process::id()));
    let result = (|| {
        let file = File::create(&tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        let file = w.into_inner().map_err(|e| e.to_string())?;
        file.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, dest).map_err(|e| format!("renaming into place: {e}"))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::test_support::{SMOLLM, greedy, model_path, user};
    use crate::llm::{ChatModel, FinishReason};
    use std::ops::ControlFlow;

    fn max_abs(t: &candle_core::Tensor) -> f32 {
        t.abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar()
            .unwrap()
    }

    #[test]
    fn requantised_smollm_keeps_shapes_values_and_generates() {
        let source = model_path(SMOLLM);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("smollm-requantised.gguf");
        let report = requantize(&source, &dest).unwrap();

        let (mut src_reader, src) = read_gguf(&source).unwrap();
        let (mut dst_reader, dst) = read_gguf(&dest).unwrap();
        assert_eq!(src.tensor_infos.len(), dst.tensor_infos.len());
        assert_eq!(src.metadata.len(), dst.metadata.len());
        let mut changed = 0;
        for (name, info) in &src.tensor_infos {
            let a = src.tensor(&mut src_reader, name, &Device::Cpu).unwrap();
            let b = dst.tensor(&mut dst_reader, name, &Device::Cpu).unwrap();
            assert_eq!(a.shape(), b.shape(), "{name}");
            if is_scalar_only(info.ggml_dtype) {
                changed += 1;
                assert_eq!(b.dtype(), GgmlDType::Q8_0, "{name}");
                let a = a.dequantize(&Device::Cpu).unwrap();
                let b = b.dequantize(&Device::Cpu).unwrap();
                // Q8_0 rounds to 1/254 of a block's range (plus an f16 scale), so no value
                // moves by more than 1/127 of the tensor's largest magnitude.
                let bound = max_abs(&a) / 127.0;
                let diff = max_abs(&(a - b).unwrap());
                assert!(diff <= bound, "{name}: {diff} > {bound}");
            } else {
                assert_eq!(b.dtype(), a.dtype(), "{name}");
                assert_eq!(b.data().unwrap(), a.data().unwrap(), "{name}");
            }
        }
        assert!(changed > 200, "SmolLM2's layers are Q4_1");
        assert_eq!(report.tensors_changed, changed);
        assert!(!needs_requantize(&dst));

        let mut model = ChatModel::load(&dest, 512).unwrap();
        let mut text = String::new();
        let g = model
            .generate(
                &[user("What is the capital of France? Answer in one word.")],
                &greedy(10),
                &mut |t| {
                    text.push_str(t);
                    ControlFlow::Continue(())
                },
            )
            .unwrap();
        assert!(text.contains("Paris"), "{text:?}");
        assert_eq!(g.finish_reason, FinishReason::Stop);
    }

    #[test]
    fn load_caches_the_requantised_copy_and_renews_it_when_stale() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("tiny-chat.gguf");
        std::fs::copy(model_path(SMOLLM), &source).unwrap();
        let cached = dir.path().join("tiny-chat.q8_0.gguf");

        let model = ChatModel::load(&source, 256).unwrap();
        assert_eq!(model.id(), "tiny-chat");
        drop(model);
        let first = modified(&cached).expect("load writes the cache");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");

        ChatModel::load(&source, 256).unwrap();
        assert_eq!(modified(&cached), Some(first), "a fresh cache is reused");

        // A cache that is newer but not a copy of this source (here: of nothing) is redone.
        std::fs::write(&cached, b"not a gguf").unwrap();
        ChatModel::load(&source, 256).unwrap();
        let (_, content) = read_gguf(&cached).unwrap();
        assert!(!needs_requantize(&content));

        // A source newer than its cache (replaced by a new download) is requantised again.
        let before = modified(&cached).unwrap();
        let later = before + std::time::Duration::from_secs(60);
        File::options()
            .write(true)
            .open(&source)
            .unwrap()
            .set_modified(later)
            .unwrap();
        ChatModel::load(&source, 256).unwrap();
        assert!(modified(&cached).unwrap() > before);
    }
}
