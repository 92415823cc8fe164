//! Decoding one 30 s window: greedy (or, for the fallback, sampled) search with openai-whisper's
//! logit rules, the no-speech probability, and the quality measures the fallback uses.

use std::io::Write;

use candle_core::{IndexOp, Tensor};

use super::decoder::TextDecoder;
use super::tokens::{LogitRules, SpecialTokens, log_prob};

/// openai-whisper's `sample_len`: n_text_ctx / 2.
pub const MAX_SAMPLED_TOKENS: usize = 224;

#[derive(Debug, Clone)]
pub struct WindowResult {
    /// Sampled tokens, end-of-text excluded; timestamps included.
    pub tokens: Vec<u32>,
    pub avg_logprob: f64,
    pub no_speech_prob: f64,
    pub temperature: f64,
    pub compression_ratio: f64,
}

pub struct WindowDecoder<'a> {
    pub decoder: &'a TextDecoder,
    pub rules: &'a LogitRules,
    pub special: &'a SpecialTokens,
    pub tokenizer: &'a gguf_tokenizers::Tokenizer,
}

impl WindowDecoder<'_> {
    /// `prompt` ends with the SOT sequence; `sot_index` is where SOT sits in it (after any
    /// previous-text prompt), the position whose logits give the no-speech probability.
    pub fn decode(
        &self,
        audio: &Tensor,
        prompt: &[u32],
        sot_index: usize,
        temperature: f64,
        rng: &mut Rng,
    ) -> candle_core::Result<WindowResult> {
        let mut state = self.decoder.start(audio)?;
        let hidden = self.decoder.forward(prompt, &mut state)?;
        let first = self
            .decoder
            .logits(&hidden.i(sot_index)?.unsqueeze(0)?)?
            .squeeze(0)?;
        let no_speech_prob = match self.special.no_speech {
            Some(id) => f64::from(log_prob(&first.to_vec1::<f32>()?, id as usize).exp()),
            None => 0.0,
        };
        let mut last = self
            .decoder
            .logits(&hidden.i(prompt.len() - 1)?.unsqueeze(0)?)?
            .squeeze(0)?;
        let limit = MAX_SAMPLED_TOKENS.min(self.decoder.max_len().saturating_sub(prompt.len()));
        let mut tokens = Vec::new();
        let mut sum_logprob = 0f64;
        for _ in 0..limit {
            let mut logits = last.to_vec1::<f32>()?;
            self.rules.apply(&mut logits, &tokens);
            let next = pick(&logits, temperature, rng);
            sum_logprob += f64::from(log_prob(&logits, next as usize));
            if next == self.special.eot {
                break;
            }
            tokens.push(next);
            if tokens.len() == limit {
                break;
            }
            let h = self.decoder.forward(&[next], &mut state)?;
            last = self.decoder.logits(&h)?.squeeze(0)?;
        }
        let text = self.text(&tokens);
        Ok(WindowResult {
            avg_logprob: sum_logprob / (tokens.len() + 1) as f64,
            no_speech_prob,
            temperature,
            compression_ratio: compression_ratio(&text),
            tokens,
        })
    }

    /// The text of the non-special tokens.
    pub fn text(&self, tokens: &[u32]) -> String {
        let text: Vec<u32> = tokens
            .iter()
            .copied()
            .filter(|&t| t < self.special.eot)
            .collect();
        self.tokenizer.decode(&text, true).unwrap_or_default()
    }

    /// The most likely language token after SOT alone (openai-whisper's `detect_language`).
    pub fn detect_language(&self, audio: &Tensor) -> candle_core::Result<Option<u32>> {
        let mut state = self.decoder.start(audio)?;
        let h = self.decoder.forward(&[self.special.sot], &mut state)?;
        let logits = self.decoder.logits(&h)?.squeeze(0)?.to_vec1::<f32>()?;
        Ok(self
            .special
            .languages
            .iter()
            .map(|&(_, id)| id)
            .filter(|&id| (id as usize) < logits.len())
            .max_by(|&a, &b| logits[a as usize].total_cmp(&logits[b as usize])))
    }
}

fn pick(logits: &[f32], temperature: f64, rng: &mut Rng) -> u32 {
    if temperature <= 0.0 {
        return argmax(logits);
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = logits
        .iter()
        .map(|&l| (f64::from(l - max) / temperature).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut r = rng.next_f64() * total;
    for (i, w) in weights.iter().enumerate() {
        if r < *w {
            return i as u32;
        }
        r -= w;
    }
    argmax(logits)
}

pub fn argmax(x: &[f32]) -> u32 {
    (0..x.len())
        .max_by(|&a, &b| x[a].total_cmp(&x[b]))
        .unwrap_or(0) as u32
}

/// openai-whisper's `len(text) / len(zlib.compress(text))`: looping output compresses well.
pub fn compression_ratio(text: &str) -> f64 {
    let bytes = text.as_bytes();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    let compressed = z
        .write_all(bytes)
        .and_then(|()| z.finish())
        .map(|c| c.len())
        .unwrap_or(0);
    if compressed == 0 {
        0.0
    } else {
        bytes.len() as f64 / compressed as f64
    }
}

/// A small deterministic PRNG (splitmix64) for temperature sampling: reproducible runs, and no
/// new dependency for the rare fallback path.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repetitive_text_compresses_far_better_than_prose() {
        let prose =
            "The upload service now sends videos straight to object storage with presigned URLs.";
        let looping = "thank you ".repeat(30);
        assert!(
            compression_ratio(prose) < 1.5,
            "{}",
            compression_ratio(prose)
        );
        assert!(
            compression_ratio(&looping) > 2.4,
            "{}",
            compression_ratio(&looping)
        );
        assert_eq!(compression_ratio(""), 0.0);
    }

    #[test]
    fn greedy_picks_the_argmax_and_sampling_follows_the_distribution() {
        let mut rng = Rng::new(7);
        let logits = [0.0f32, 2.0, f32::NEG_INFINITY, 1.0];
        assert_eq!(pick(&logits, 0.0, &mut rng), 1);
        let mut counts = [0usize; 4];
        for _ in 0..4000 {
            counts[pick(&logits, 1.0, &mut rng) as usize] += 1;
        }
        assert_eq!(counts[2], 0, "a suppressed token is never sampled");
        // p = softmax([0, 2, 1]) = 0.090, 0.665, 0.245
        let p1 = counts[1] as f64 / 4000.0;
        assert!((p1 - 0.665).abs() < 0.03, "{counts:?}");
    }
}
