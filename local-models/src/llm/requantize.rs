//! candle's x86 kernels have SIMD paths for Q4_K, Q6_K, Q8_0 and friends, but Q5_0 and
//! Q4_1 only have the scalar one. Most of the Qwen 0.5B file's layer weights are Q5_0 (and
//! SmolLM2's Q4_1), so those tensors are requantised to Q8_0 once and the result kept next
//! to the source: a little larger, several times faster to multiply.

use std::{
    fs::File,
    io::{BufReader, BufWriter},
    path::{Path, PathBuf},
    time::Instant,
};

use candle_core::{
    Device,
    quantized::{GgmlDType, QTensor, gguf_file},
};

use super::LoadError;

#[derive(Debug, Clone, Copy)]
pub struct RequantizeReport {
    pub tensors_changed: usize,
    pub seconds: f64,
}

/// Types with only a scalar kernel on x86.
pub fn is_slow(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q5_0 | GgmlDType::Q4_1)
}

/// Where the requantised copy of `source` lives.
pub fn requantized_path(source: &Path) -> PathBuf {
    let stem = source.file_stem().unwrap_or_default().to_string_lossy();
    source.with_file_name(format!("{stem}.q8_0.gguf"))
}

/// Writes `dest`: `source` with every slow tensor requantised to Q8_0 and every other
/// tensor and metadata entry as it was. Written under a temporary name and renamed, so a
/// crash never leaves a half file under the real one.
pub fn requantize(source: &Path, dest: &Path) -> Result<RequantizeReport, LoadError> {
    let started = Instant::now();
    let bad = |e: candle_core::Error| LoadError::Gguf {
        path: source.display().to_string(),
        reason: e.to_string(),
    };
    let mut reader = BufReader::new(File::open(source).map_err(|e| LoadError::io(source, e))?);
    let content = gguf_file::Content::read(&mut reader).map_err(bad)?;
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors: Vec<(&str, QTensor)> = Vec::with_capacity(names.len());
    let mut changed = 0;
    for name in names {
        let tensor = content
            .tensor(&mut reader, name, &Device::Cpu)
            .map_err(bad)?;
        let tensor = if is_slow(tensor.dtype()) {
            changed += 1;
            let values = tensor.dequantize(&Device::Cpu).map_err(bad)?;
            QTensor::quantize(&values, GgmlDType::Q8_0).map_err(bad)?
        } else {
            tensor
        };
        tensors.push((name.as_str(), tensor));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let partial = dest.with_extension("partial");
    {
        let mut out =
            BufWriter::new(File::create(&partial).map_err(|e| LoadError::io(&partial, e))?);
        gguf_file::write(&mut out, &metadata, &tensor_refs).map_err(bad)?;
        std::io::Write::flush(&mut out).map_err(|e| LoadError::io(&partial, e))?;
    }
    std::fs::rename(&partial, dest).map_err(|e| LoadError::io(dest, e))?;
    Ok(RequantizeReport {
        tensors_changed: changed,
        seconds: started.elapsed().as_secs_f64(),
    })
}
