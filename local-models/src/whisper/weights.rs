//! CTranslate2 Whisper variables → the tensor names and shapes candle's Whisper loads.
//!
//! CT2 fuses projections: self-attention `linear_0` is q|k|v stacked on rows ([3d, d]),
//! cross-attention `linear_1` is k|v ([2d, d]). candle's key projections have no bias,
//! which is exact only because Whisper's K bias is zero; we check that rather than assume it.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::whisper::Config;

use super::ct2::{Ct2Dtype, Ct2Model, Variable};

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("variable {0} is missing")]
    Missing(String),
    #[error("variable {name} has shape {dims:?}, expected {expected}")]
    Shape {
        name: String,
        dims: Vec<usize>,
        expected: String,
    },
    #[error("variable {0} is not floating point")]
    NotFloat(String),
    #[error("{0}: the key bias is not zero, which candle's Whisper cannot represent")]
    NonZeroKeyBias(String),
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
}

/// Largest |K bias| treated as zero: f16 zeros are exact, this only guards against real biases.
const KEY_BIAS_TOLERANCE: f32 = 1e-4;

/// Reads the model's dimensions from the tensors themselves, so any Whisper size loads.
pub fn config_from_ct2(m: &Ct2Model, suppress_tokens: Vec<u32>) -> Result<Config, WeightsError> {
    let emb = dims(m, "decoder/embeddings/weight", 2)?;
    let (vocab_size, d_model) = (emb[0], emb[1]);
    let conv1 = dims(m, "encoder/conv1/weight", 3)?;
    let enc_pos = dims(m, "encoder/position_encodings/encodings", 2)?;
    let dec_pos = dims(m, "decoder/position_encodings/encodings", 2)?;
    let heads = |side: &str| {
        m.get(&format!("{side}/num_heads"))
            .and_then(Variable::as_scalar_i64)
            .and_then(|h| usize::try_from(h).ok())
            .filter(|&h| h > 0 && d_model % h == 0)
            // Every released Whisper uses 64-wide heads.
            .unwrap_or(d_model / 64)
    };
    Ok(Config {
        num_mel_bins: conv1[1],
        max_source_positions: enc_pos[0],
        d_model,
        encoder_attention_heads: heads("encoder"),
        encoder_layers: count_layers(m, "encoder"),
        vocab_size,
        max_target_positions: dec_pos[0],
        decoder_attention_heads: heads("decoder"),
        decoder_layers: count_layers(m, "decoder"),
        suppress_tokens,
    })
}

fn dims<'a>(m: &'a Ct2Model, name: &str, rank: usize) -> Result<&'a [usize], WeightsError> {
    let v = m
        .get(name)
        .ok_or_else(|| WeightsError::Missing(name.into()))?;
    if v.dims.len() != rank {
        return Err(WeightsError::Shape {
            name: name.into(),
            dims: v.dims.clone(),
            expected: format!("rank {rank}"),
        });
    }
    Ok(&v.dims)
}

fn count_layers(m: &Ct2Model, side: &str) -> usize {
    (0..)
        .take_while(|i| {
            m.variables
                .contains_key(&format!("{side}/layer_{i}/ffn/linear_0/weight"))
        })
        .count()
}

/// The candle-named f32 tensors for `Whisper::load` (and our cached decoder, same names).
pub fn candle_tensors(m: &Ct2Model, cfg: &Config) -> Result<HashMap<String, Tensor>, WeightsError> {
    let mut out = Map {
        m,
        cfg,
        out: HashMap::new(),
    };
    out.copy("encoder/conv1/weight", "model.encoder.conv1.weight")?;
    out.copy("encoder/conv1/bias", "model.encoder.conv1.bias")?;
    out.copy("encoder/conv2/weight", "model.encoder.conv2.weight")?;
    out.copy("encoder/conv2/bias", "model.encoder.conv2.bias")?;
    out.layer_norm("encoder/layer_norm", "model.encoder.layer_norm")?;
    for i in 0..cfg.encoder_layers {
        let (src, dst) = (
            format!("encoder/layer_{i}"),
            format!("model.encoder.layers.{i}"),
        );
        out.self_attention(&src, &dst)?;
        out.ffn(&src, &dst)?;
    }
    out.copy(
        "decoder/embeddings/weight",
        "model.decoder.embed_tokens.weight",
    )?;
    out.copy(
        "decoder/position_encodings/encodings",
        "model.decoder.embed_positions.weight",
    )?;
    out.layer_norm("decoder/layer_norm", "model.decoder.layer_norm")?;
    for i in 0..cfg.decoder_layers {
        let (src, dst) = (
            format!("decoder/layer_{i}"),
            format!("model.decoder.layers.{i}"),
        );
        out.self_attention(&src, &dst)?;
        out.cross_attention(&src, &dst)?;
        out.ffn(&src, &dst)?;
    }
    Ok(out.out)
}

struct Map<'a> {
    m: &'a Ct2Model,
    cfg: &'a Config,
    out: HashMap<String, Tensor>,
}

impl Map<'_> {
    fn tensor(&self, name: &str) -> Result<Tensor, WeightsError> {
        let v = self
            .m
            .get(name)
            .ok_or_else(|| WeightsError::Missing(name.into()))?;
        let dtype = match v.dtype {
            Ct2Dtype::F16 => DType::F16,
            Ct2Dtype::BF16 => DType::BF16,
            Ct2Dtype::F32 => DType::F32,
            _ => return Err(WeightsError::NotFloat(name.into())),
        };
        let t = Tensor::from_raw_buffer(&v.data, dtype, &v.dims, &Device::Cpu)?;
        Ok(t.to_dtype(DType::F32)?)
    }

    fn copy(&mut self, src: &str, dst: &str) -> Result<(), WeightsError> {
        let t = self.tensor(src)?;
        self.out.insert(dst.into(), t);
        Ok(())
    }

    fn layer_norm(&mut self, src: &str, dst: &str) -> Result<(), WeightsError> {
        self.copy(&format!("{src}/gamma"), &format!("{dst}.weight"))?;
        self.copy(&format!("{src}/beta"), &format!("{dst}.bias"))
    }

    fn linear(&mut self, src: &str, dst: &str) -> Result<(), WeightsError> {
        self.copy(&format!("{src}/weight"), &format!("{dst}.weight"))?;
        self.copy(&format!("{src}/bias"), &format!("{dst}.bias"))
    }

    /// Splits a fused projection into `parts` equal row blocks named by `names` (`k_proj` gets no bias).
    fn split(&mut self, src: &str, dst: &str, names: &[&str]) -> Result<(), WeightsError> {
        let d = self.cfg.d_model;
        let w = self.tensor(&format!("{src}/weight"))?;
        let b = self.tensor(&format!("{src}/bias"))?;
        let n = names.len();
        if w.dims() != [n * d, d] || b.dims() != [n * d] {
            return Err(WeightsError::Shape {
                name: format!("{src}/weight"),
                dims: w.dims().to_vec(),
                expected: format!("[{}, {d}] with a [{}] bias", n * d, n * d),
            });
        }
        for (i, part) in names.iter().enumerate() {
            let name = format!("{dst}.{part}");
            self.out.insert(
                format!("{name}.weight"),
                w.narrow(0, i * d, d)?.contiguous()?,
            );
            let bias = b.narrow(0, i * d, d)?.contiguous()?;
            if *part == "k_proj" {
                let max = bias.abs()?.max(0)?.to_scalar::<f32>()?;
                if max > KEY_BIAS_TOLERANCE {
                    return Err(WeightsError::NonZeroKeyBias(format!("{src}/bias")));
                }
            } else {
                self.out.insert(format!("{name}.bias"), bias);
            }
        }
        Ok(())
    }

    fn self_attention(&mut self, src: &str, dst: &str) -> Result<(), WeightsError> {
        let (s, d) = (format!("{src}/self_attention"), format!("{dst}.self_attn"));
        self.layer_norm(
            &format!("{s}/layer_norm"),
            &format!("{dst}.self_attn_layer_norm"),
        )?;
        self.split(
            &format!("{s}/linear_0"),
            &d,
            &["q_proj", "k_proj", "v_proj"],
        )?;
        self.linear(&format!("{s}/linear_1"), &format!("{d}.out_proj"))
    }

    fn cross_attention(&mut self, src: &str, dst: &str) -> Result<(), WeightsError> {
        let (s, d) = (format!("{src}/attention"), format!("{dst}.encoder_attn"));
        self.layer_norm(
            &format!("{s}/layer_norm"),
            &format!("{dst}.encoder_attn_layer_norm"),
        )?;
        self.linear(&format!("{s}/linear_0"), &format!("{d}.q_proj"))?;
        self.split(&format!("{s}/linear_1"), &d, &["k_proj", "v_proj"])?;
        self.linear(&format!("{s}/linear_2"), &format!("{d}.out_proj"))
    }

    fn ffn(&mut self, src: &str, dst: &str) -> Result<(), WeightsError> {
        self.layer_norm(
            &format!("{src}/ffn/layer_norm"),
            &format!("{dst}.final_layer_norm"),
        )?;
        self.linear(&format!("{src}/ffn/linear_0"), &format!("{dst}.fc1"))?;
        self.linear(&format!("{src}/ffn/linear_1"), &format!("{dst}.fc2"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whisper::testutil::{ct2_tiny_en, models_dir};

    /// Every name and shape candle's Whisper asks for, written out from its model.rs.
    fn expected_shapes(cfg: &Config) -> Vec<(String, Vec<usize>)> {
        let d = cfg.d_model;
        let mut v = vec![
            (
                "model.encoder.conv1.weight".to_string(),
                vec![d, cfg.num_mel_bins, 3],
            ),
            ("model.encoder.conv1.bias".into(), vec![d]),
            ("model.encoder.conv2.weight".into(), vec![d, d, 3]),
            ("model.encoder.conv2.bias".into(), vec![d]),
            ("model.encoder.layer_norm.weight".into(), vec![d]),
            ("model.encoder.layer_norm.bias".into(), vec![d]),
            (
                "model.decoder.embed_tokens.weight".into(),
                vec![cfg.vocab_size, d],
            ),
            (
                "model.decoder.embed_positions.weight".into(),
                vec![cfg.max_target_positions, d],
            ),
            ("model.decoder.layer_norm.weight".into(), vec![d]),
            ("model.decoder.layer_norm.bias".into(), vec![d]),
        ];
        let attn = |p: &str, v: &mut Vec<(String, Vec<usize>)>| {
            for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                v.push((format!("{p}.{proj}.weight"), vec![d, d]));
                if proj != "k_proj" {
                    v.push((format!("{p}.{proj}.bias"), vec![d]));
                }
            }
        };
        let rest = |p: &str, ln: &str, v: &mut Vec<(String, Vec<usize>)>| {
            for n in [ln, "final_layer_norm"] {
                v.push((format!("{p}.{n}.weight"), vec![d]));
                v.push((format!("{p}.{n}.bias"), vec![d]));
            }
            v.push((format!("{p}.fc1.weight"), vec![4 * d, d]));
            v.push((format!("{p}.fc1.bias"), vec![4 * d]));
            v.push((format!("{p}.fc2.weight"), vec![d, 4 * d]));
            v.push((format!("{p}.fc2.bias"), vec![d]));
        };
        for i in 0..cfg.encoder_layers {
            let p = format!("model.encoder.layers.{i}");
            attn(&format!("{p}.self_attn"), &mut v);
            rest(&p, "self_attn_layer_norm", &mut v);
        }
        for i in 0..cfg.decoder_layers {
            let p = format!("model.decoder.layers.{i}");
            attn(&format!("{p}.self_attn"), &mut v);
            attn(&format!("{p}.encoder_attn"), &mut v);
            rest(&p, "self_attn_layer_norm", &mut v);
            v.push((format!("{p}.encoder_attn_layer_norm.weight"), vec![d]));
            v.push((format!("{p}.encoder_attn_layer_norm.bias"), vec![d]));
        }
        v
    }

    #[test]
    fn tiny_en_config_comes_from_the_shapes() {
        let cfg = config_from_ct2(&ct2_tiny_en(), vec![]).unwrap();
        let want = (80, 1500, 384, 6, 4, 51864, 448, 6, 4);
        let got = (
            cfg.num_mel_bins,
            cfg.max_source_positions,
            cfg.d_model,
            cfg.encoder_attention_heads,
            cfg.encoder_layers,
            cfg.vocab_size,
            cfg.max_target_positions,
            cfg.decoder_attention_heads,
            cfg.decoder_layers,
        );
        assert_eq!(got, want);
    }

    #[test]
    fn tiny_en_maps_every_candle_tensor_with_its_shape() {
        let m = ct2_tiny_en();
        let cfg = config_from_ct2(&m, vec![]).unwrap();
        let tensors = candle_tensors(&m, &cfg).unwrap();
        let expected = expected_shapes(&cfg);
        for (name, shape) in &expected {
            let t = tensors
                .get(name)
                .unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(t.dims(), shape.as_slice(), "{name}");
            assert_eq!(t.dtype(), DType::F32, "{name}");
        }
        assert_eq!(tensors.len(), expected.len(), "no extra tensors");
        let vb = candle_nn::VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
        candle_transformers::models::whisper::model::Whisper::load(&vb, cfg).unwrap();
    }

    #[test]
    fn the_split_keeps_the_fused_rows_in_q_k_v_order() {
        let m = ct2_tiny_en();
        let cfg = config_from_ct2(&m, vec![]).unwrap();
        let t = candle_tensors(&m, &cfg).unwrap();
        let fused = Map {
            m: &m,
            cfg: &cfg,
            out: HashMap::new(),
        }
        .tensor("decoder/layer_1/self_attention/linear_0/weight")
        .unwrap();
        let v = t["model.decoder.layers.1.self_attn.v_proj.weight"].clone();
        let diff = (fused.narrow(0, 2 * 384, 384).unwrap() - v)
            .unwrap()
            .abs()
            .unwrap();
        assert_eq!(diff.max_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
        assert!(models_dir().exists());
    }
}
