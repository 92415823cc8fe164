//! Whisper's special tokens (looked up by name: English-only and multilingual vocabularies
//! number them differently) and openai-whisper's logit filters for timestamped decoding.

use gguf_tokenizers::Tokenizer;

/// Seconds per timestamp token step.
pub const TIMESTAMP_STEP: f64 = 0.02;
/// openai-whisper's `max_initial_timestamp` = 1.0 s, in timestamp steps.
pub const MAX_INITIAL_TIMESTAMP_INDEX: u32 = 50;

#[derive(Debug, Clone)]
pub struct SpecialTokens {
    pub sot: u32,
    pub eot: u32,
    pub transcribe: u32,
    pub translate: Option<u32>,
    pub no_timestamps: u32,
    pub no_speech: Option<u32>,
    pub start_of_prev: Option<u32>,
    pub start_of_lm: Option<u32>,
    /// `<|0.00|>`; every id from here to the end of the vocabulary is a timestamp.
    pub timestamp_begin: u32,
    /// (ISO code, token id), in the model's order.
    pub languages: Vec<(String, u32)>,
}

impl SpecialTokens {
    pub fn from_tokenizer(tok: &Tokenizer, lang_ids: &[u32]) -> Result<Self, String> {
        let need = |name: &str| {
            tok.token_to_id(name)
                .ok_or_else(|| format!("has no {name} token"))
        };
        let no_timestamps = need("<|notimestamps|>")?;
        let languages = lang_ids
            .iter()
            .map(|&id| {
                let t = tok
                    .id_to_token(id)
                    .ok_or_else(|| format!("language id {id} is not in the vocabulary"))?;
                let code = t.strip_prefix("<|").and_then(|t| t.strip_suffix("|>"));
                let code =
                    code.ok_or_else(|| format!("language id {id} is {t}, not a <|xx|> token"))?;
                Ok((code.to_string(), id))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self {
            sot: need("<|startoftranscript|>")?,
            eot: need("<|endoftext|>")?,
            transcribe: need("<|transcribe|>")?,
            translate: tok.token_to_id("<|translate|>"),
            no_timestamps,
            no_speech: tok
                .token_to_id("<|nospeech|>")
                .or_else(|| tok.token_to_id("<|nocaptions|>")),
            start_of_prev: tok.token_to_id("<|startofprev|>"),
            start_of_lm: tok.token_to_id("<|startoflm|>"),
            // Many tokenizer.json files omit the 1501 timestamp tokens; they follow <|notimestamps|>.
            timestamp_begin: tok.token_to_id("<|0.00|>").unwrap_or(no_timestamps + 1),
            languages,
        })
    }

    pub fn language(&self, code: &str) -> Option<u32> {
        self.languages
            .iter()
            .find(|(c, _)| c == code)
            .map(|&(_, id)| id)
    }

    pub fn language_code(&self, id: u32) -> Option<&str> {
        self.languages
            .iter()
            .find(|&&(_, i)| i == id)
            .map(|(c, _)| c.as_str())
    }

    /// Tokens never worth sampling in a transcript, beyond config.json's `suppress_ids`
    /// (openai-whisper adds these to its "-1" set).
    pub fn always_suppressed(&self) -> Vec<u32> {
        [
            Some(self.transcribe),
            self.translate,
            Some(self.sot),
            self.start_of_prev,
            self.start_of_lm,
            self.no_speech,
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// openai-whisper's SuppressBlank + SuppressTokens + ApplyTimestampRules, on one logits row.
#[derive(Debug, Clone)]
pub struct LogitRules {
    pub timestamp_begin: u32,
    pub eot: u32,
    pub no_timestamps: u32,
    pub suppress: Vec<u32>,
    /// Only at the first sampled position: a blank and end-of-text (config `suppress_ids_begin`).
    pub suppress_begin: Vec<u32>,
    pub max_initial_timestamp_index: Option<u32>,
}

impl LogitRules {
    /// `sampled` are the tokens generated so far in this window (the prompt excluded).
    pub fn apply(&self, logits: &mut [f32], sampled: &[u32]) {
        let mask = |logits: &mut [f32], ids: &[u32]| {
            for &id in ids {
                if let Some(l) = logits.get_mut(id as usize) {
                    *l = f32::NEG_INFINITY;
                }
            }
        };
        if sampled.is_empty() {
            mask(logits, &self.suppress_begin);
        }
        mask(logits, &self.suppress);
        mask(logits, &[self.no_timestamps]);
        self.apply_timestamp_rules(logits, sampled);
    }

    fn apply_timestamp_rules(&self, logits: &mut [f32], sampled: &[u32]) {
        let tb = self.timestamp_begin as usize;
        let n = logits.len();
        let is_ts = |t: u32| t >= self.timestamp_begin;
        let last_ts = sampled.last().is_some_and(|&t| is_ts(t));
        let penultimate_ts = sampled.len() < 2 || is_ts(sampled[sampled.len() - 2]);
        if last_ts {
            if penultimate_ts {
                // A pair just closed: text (or end) must follow.
                fill(&mut logits[tb.min(n)..]);
            } else {
                // An opened segment must close with a timestamp (or end).
                fill(&mut logits[..(self.eot as usize).min(n)]);
            }
        }
        if let Some(&last) = sampled.iter().rev().find(|&&t| is_ts(t)) {
            // Monotonic; a closing timestamp may repeat the opening one, a new one may not.
            let bound = if last_ts && !penultimate_ts {
                last
            } else {
                last + 1
            } as usize;
            fill(&mut logits[tb.min(n)..bound.min(n)]);
        }
        if sampled.is_empty() {
            fill(&mut logits[..tb.min(n)]);
            if let Some(max) = self.max_initial_timestamp_index {
                fill(&mut logits[(tb + max as usize + 1).min(n)..]);
            }
        }
        force_timestamp_if_likelier(logits, tb);
    }
}

fn fill(s: &mut [f32]) {
    s.fill(f32::NEG_INFINITY);
}

/// If the timestamps together outweigh the best text token, a timestamp must come next.
fn force_timestamp_if_likelier(logits: &mut [f32], tb: usize) {
    if tb >= logits.len() {
        return;
    }
    let lse = log_sum_exp(logits);
    let ts_logprob = log_sum_exp(&logits[tb..]) - lse;
    let max_text = logits[..tb]
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max)
        - lse;
    if ts_logprob > max_text {
        fill(&mut logits[..tb]);
    }
}

pub fn log_sum_exp(x: &[f32]) -> f32 {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return max;
    }
    max + x.iter().map(|&v| (v - max).exp()).sum::<f32>().ln()
}

/// log_softmax(x)[i].
pub fn log_prob(x: &[f32], i: usize) -> f32 {
    x[i] - log_sum_exp(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A toy vocabulary: text 0..10, eot 10, no_timestamps 11, timestamps 12..20 (0.00 .. 0.16 s).
    const TB: u32 = 12;
    const EOT: u32 = 10;
    const NT: u32 = 11;
    const N: usize = 20;
    const NEG: f32 = f32::NEG_INFINITY;

    fn rules() -> LogitRules {
        LogitRules {
            timestamp_begin: TB,
            eot: EOT,
            no_timestamps: NT,
            suppress: vec![3],
            suppress_begin: vec![0, EOT],
            max_initial_timestamp_index: Some(2),
        }
    }

    /// Flat logits with text token 5 favoured, so no timestamp is forced by probability.
    fn text_heavy() -> Vec<f32> {
        let mut l = vec![0.0; N];
        l[5] = 10.0;
        l
    }

    fn allowed(l: &[f32]) -> Vec<usize> {
        (0..l.len()).filter(|&i| l[i] > NEG).collect()
    }

    #[test]
    fn the_first_token_is_a_timestamp_no_later_than_the_initial_maximum() {
        let mut l = text_heavy();
        rules().apply(&mut l, &[]);
        assert_eq!(allowed(&l), vec![12, 13, 14]);
    }

    #[test]
    fn after_the_opening_timestamp_text_follows() {
        let mut l = text_heavy();
        rules().apply(&mut l, &[14]);
        // openai-whisper counts a lone first timestamp as a closed pair: text (not the
        // suppressed 3, not no_timestamps) or eot.
        assert_eq!(allowed(&l), vec![0, 1, 2, 4, 5, 6, 7, 8, 9, 10]);
    }

    #[test]
    fn after_text_then_a_timestamp_only_a_timestamp_or_eot_may_follow() {
        let mut l = vec![0.0; N];
        l[EOT as usize] = 5.0;
        rules().apply(&mut l, &[13, 5, 15]);
        assert_eq!(allowed(&l), vec![10, 15, 16, 17, 18, 19]);
    }

    #[test]
    fn after_a_closed_pair_no_timestamp_may_follow() {
        let mut l = text_heavy();
        rules().apply(&mut l, &[13, 5, 15, 15]);
        assert_eq!(allowed(&l), vec![0, 1, 2, 4, 5, 6, 7, 8, 9, 10]);
    }

    #[test]
    fn timestamps_never_decrease_and_a_new_one_does_not_repeat() {
        let mut l = text_heavy();
        rules().apply(&mut l, &[13, 5, 16, 16, 6]);
        // The last timestamp is 16 after text: the next must be > 16 (or text / eot).
        assert!(l[16] == NEG && l[15] == NEG && l[17] > NEG);
    }

    #[test]
    fn timestamps_are_forced_when_they_outweigh_the_best_text_token() {
        let mut l = vec![0.0; N];
        l[5] = 2.0; // p(5) ∝ e² ≈ 7.4; the six timestamps > 13 at 1.0 each ∝ 6e ≈ 16.3
        for v in &mut l[14..] {
            *v = 1.0;
        }
        rules().apply(&mut l, &[13, 5]);
        assert_eq!(allowed(&l), vec![14, 15, 16, 17, 18, 19]);
    }

    #[test]
    fn suppress_begin_applies_only_at_the_first_step() {
        let mut r = rules();
        r.max_initial_timestamp_index = None;
        let mut first = vec![0.0; N];
        r.apply(&mut first, &[]);
        let mut later = vec![0.0; N];
        later[5] = 3.0; // so that no timestamp is forced
        r.apply(&mut later, &[13, 5]);
        assert_eq!(first[EOT as usize], NEG);
        assert!(later[0] > NEG && later[EOT as usize] > NEG && later[3] == NEG);
        assert_eq!(later[NT as usize], NEG);
    }

    #[test]
    fn log_softmax_helpers() {
        let x = [0.0f32, (3.0f32).ln()];
        assert!((log_prob(&x, 1) - 0.75f32.ln()).abs() < 1e-6);
        assert_eq!(log_sum_exp(&[NEG, NEG]), NEG);
    }
}
