//! Whisper's text decoder with a self-attention kv cache.
//!
//! candle 0.11's `TextDecoder` caches only the cross-attention keys/values: its self-attention
//! recomputes every position and its positional embedding always starts at 0, so it must be fed
//! the whole sequence each step (quadratic work per window). This decoder, loaded from the same
//! tensor names, keeps each layer's keys/values so each step costs one token.

use candle_core::{D, DType, Device, Module, Result, Tensor};
use candle_nn::{LayerNorm, Linear, VarBuilder};
use candle_transformers::models::whisper::Config;

#[derive(Debug, Clone)]
pub struct TextDecoder {
    embed_tokens: Tensor,
    embed_positions: Tensor,
    blocks: Vec<Block>,
    ln: LayerNorm,
    n_head: usize,
    /// openai-whisper's nn.GELU is the exact (erf) form; candle's Whisper uses the tanh
    /// approximation. Exact by default; the tanh form lets a test compare with candle bit for bit.
    exact_gelu: bool,
}

#[derive(Debug, Clone)]
struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
}

#[derive(Debug, Clone)]
struct Block {
    attn_ln: LayerNorm,
    attn: Attention,
    cross_ln: LayerNorm,
    cross: Attention,
    mlp_ln: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

/// Per-window decoding state: cross-attention keys/values of the audio, and the tokens so far.
pub struct DecoderState {
    cross_kv: Vec<(Tensor, Tensor)>,
    self_kv: Vec<Option<(Tensor, Tensor)>>,
    pub len: usize,
}

fn layer_norm(d: usize, vb: VarBuilder) -> Result<LayerNorm> {
    Ok(LayerNorm::new(
        vb.get(d, "weight")?,
        vb.get(d, "bias")?,
        1e-5,
    ))
}

fn linear(d_in: usize, d_out: usize, bias: bool, vb: VarBuilder) -> Result<Linear> {
    let w = vb.get((d_out, d_in), "weight")?;
    let b = if bias {
        Some(vb.get(d_out, "bias")?)
    } else {
        None
    };
    Ok(Linear::new(w, b))
}

impl Attention {
    fn load(d: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            q: linear(d, d, true, vb.pp("q_proj"))?,
            k: linear(d, d, false, vb.pp("k_proj"))?,
            v: linear(d, d, true, vb.pp("v_proj"))?,
            out: linear(d, d, true, vb.pp("out_proj"))?,
        })
    }
}

impl TextDecoder {
    /// `vb` at `model.decoder`.
    pub fn load(vb: VarBuilder, cfg: &Config) -> Result<Self> {
        let d = cfg.d_model;
        let blocks = (0..cfg.decoder_layers)
            .map(|i| {
                let vb = vb.pp(format!("layers.{i}"));
                Ok(Block {
                    attn_ln: layer_norm(d, vb.pp("self_attn_layer_norm"))?,
                    attn: Attention::load(d, vb.pp("self_attn"))?,
                    cross_ln: layer_norm(d, vb.pp("encoder_attn_layer_norm"))?,
                    cross: Attention::load(d, vb.pp("encoder_attn"))?,
                    mlp_ln: layer_norm(d, vb.pp("final_layer_norm"))?,
                    fc1: linear(d, 4 * d, true, vb.pp("fc1"))?,
                    fc2: linear(4 * d, d, true, vb.pp("fc2"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            embed_tokens: vb.get((cfg.vocab_size, d), "embed_tokens.weight")?,
            embed_positions: vb.get((cfg.max_target_positions, d), "embed_positions.weight")?,
            blocks,
            ln: layer_norm(d, vb.pp("layer_norm"))?,
            n_head: cfg.decoder_attention_heads,
            exact_gelu: true,
        })
    }

    pub fn max_len(&self) -> usize {
        self.embed_positions.dim(0).unwrap_or(0)
    }

    /// Projects the encoder output [1, 1500, d] once per window.
    pub fn start(&self, audio: &Tensor) -> Result<DecoderState> {
        let cross_kv = self
            .blocks
            .iter()
            .map(|b| {
                Ok((
                    self.heads(&b.cross.k.forward(audio)?)?,
                    self.heads(&b.cross.v.forward(audio)?)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(DecoderState {
            cross_kv,
            self_kv: vec![None; self.blocks.len()],
            len: 0,
        })
    }

    /// Feeds `tokens` after those already in `state`; returns their final hidden states [n, d].
    pub fn forward(&self, tokens: &[u32], state: &mut DecoderState) -> Result<Tensor> {
        let n = tokens.len();
        if state.len + n > self.max_len() {
            candle_core::bail!("decoder context of {} tokens exceeded", self.max_len());
        }
        let ids = Tensor::new(tokens, &Device::Cpu)?;
        let pos = self.embed_positions.narrow(0, state.len, n)?;
        let mut x = self
            .embed_tokens
            .index_select(&ids, 0)?
            .add(&pos)?
            .unsqueeze(0)?;
        let mask = causal_mask(state.len, n)?;
        for (i, b) in self.blocks.iter().enumerate() {
            let h = b.attn_ln.forward(&x)?;
            let q = self.heads(&b.attn.q.forward(&h)?)?;
            let k = self.heads(&b.attn.k.forward(&h)?)?;
            let v = self.heads(&b.attn.v.forward(&h)?)?;
            let (k, v) = match &state.self_kv[i] {
                Some((pk, pv)) => (Tensor::cat(&[pk, &k], 2)?, Tensor::cat(&[pv, &v], 2)?),
                None => (k, v),
            };
            state.self_kv[i] = Some((k.clone(), v.clone()));
            let a = self.attend(&q, &k, &v, mask.as_ref())?;
            x = (x + b.attn.out.forward(&a)?)?;
            let h = b.cross_ln.forward(&x)?;
            let q = self.heads(&b.cross.q.forward(&h)?)?;
            let (ck, cv) = &state.cross_kv[i];
            let a = self.attend(&q, ck, cv, None)?;
            x = (x + b.cross.out.forward(&a)?)?;
            let h = b.fc1.forward(&b.mlp_ln.forward(&x)?)?;
            let h = if self.exact_gelu {
                h.gelu_erf()?
            } else {
                h.gelu()?
            };
            let m = b.fc2.forward(&h)?;
            x = (x + m)?;
        }
        state.len += n;
        self.ln.forward(&x)?.squeeze(0)
    }

    /// Logits over the vocabulary for hidden states [n, d] (the embedding is tied).
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        hidden.matmul(&self.embed_tokens.t()?)
    }

    /// [1, t, d] → [1, heads, t, d/heads]
    fn heads(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        x.reshape((b, t, self.n_head, d / self.n_head))?
            .transpose(1, 2)?
            .contiguous()
    }

    fn attend(&self, q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let dh = q.dim(D::Minus1)?;
        let mut w = (q.matmul(&k.t()?)? * (dh as f64).powf(-0.5))?;
        if let Some(m) = mask {
            w = w.broadcast_add(m)?;
        }
        let w = candle_nn::ops::softmax_last_dim(&w)?;
        w.matmul(v)?.transpose(1, 2)?.flatten_from(2)
    }
}

/// New positions past..past+n may see keys 0..=their own position; one new token needs no mask.
fn causal_mask(past: usize, n: usize) -> Result<Option<Tensor>> {
    if n == 1 {
        return Ok(None);
    }
    let total = past + n;
    let m: Vec<f32> = (0..n)
        .flat_map(|i| (0..total).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Ok(Some(
        Tensor::from_vec(m, (n, total), &Device::Cpu)?.to_dtype(DType::F32)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whisper::testutil::tiny_en;
    use candle_core::IndexOp;

    #[test]
    fn cached_steps_match_candles_full_recompute() {
        let m = tiny_en();
        let mut whisper = m.whisper.clone();
        let mel = Tensor::randn(0f32, 0.5, (1, 80, 3000), &Device::Cpu).unwrap();
        let audio = whisper.encoder.forward(&mel, true).unwrap();
        let t = &m.tokens;
        let seq = [t.sot, t.timestamp_begin, 464, 2068, 7586];

        let full = whisper
            .decoder
            .forward(
                &Tensor::new(&seq[..], &Device::Cpu)
                    .unwrap()
                    .unsqueeze(0)
                    .unwrap(),
                &audio,
                true,
            )
            .unwrap();
        let want = whisper
            .decoder
            .final_linear(&full.i((.., seq.len() - 1..)).unwrap())
            .unwrap()
            .flatten_all()
            .unwrap();

        let mut dec = m.decoder.clone();
        dec.exact_gelu = false;
        let mut state = dec.start(&audio).unwrap();
        dec.forward(&seq[..2], &mut state).unwrap();
        dec.forward(&seq[2..4], &mut state).unwrap();
        let h = dec.forward(&seq[4..], &mut state).unwrap();
        let got = dec.logits(&h).unwrap().flatten_all().unwrap();

        let diff = (want.clone() - &got)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        // Only float summation order differs (measured 1.4e-5).
        assert!(diff < 1e-3, "max logit difference {diff}");
        assert_eq!(
            want.argmax(0).unwrap().to_scalar::<u32>().unwrap(),
            got.argmax(0).unwrap().to_scalar::<u32>().unwrap()
        );
        assert_eq!(state.len, 5);
    }

    #[test]
    fn mask_lets_each_new_position_see_the_past_and_itself() {
        let m = causal_mask(2, 2)
            .unwrap()
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(m[0], [0.0, 0.0, 0.0, f32::NEG_INFINITY]);
        assert_eq!(m[1], [0.0; 4]);
        assert!(causal_mask(5, 1).unwrap().is_none());
    }
}
