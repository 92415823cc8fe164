//! Long recordings: openai-whisper's `transcribe` loop over 30 s windows, seeking by the last
//! timestamp the model emitted, so a sentence cut at a window edge is decoded whole next time.

use std::ops::ControlFlow;

use super::decode::{Rng, WindowDecoder, WindowResult};
use super::mel::{HOP_LENGTH, LogMel, N_FRAMES, SAMPLE_RATE};
use super::tokens::TIMESTAMP_STEP;
use super::{Progress, Segment, TranscribeError};

pub const TEMPERATURES: [f64; 6] = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
pub const COMPRESSION_RATIO_THRESHOLD: f64 = 2.4;
pub const LOGPROB_THRESHOLD: f64 = -1.0;
pub const NO_SPEECH_THRESHOLD: f64 = 0.6;
/// Mel frames per timestamp step (the encoder halves 100 frames/s to 50 positions/s).
const FRAMES_PER_TIMESTAMP: usize = 2;

/// A window's tokens cut into timed pieces, before text decoding.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    pub start: f64,
    pub end: f64,
    pub tokens: Vec<u32>,
}

/// Cuts `tokens` at each pair of consecutive timestamps and says how far to seek (in frames).
/// Mirrors openai-whisper: a window ending in a lone timestamp was complete, so seek to its end;
/// otherwise seek to the last closing timestamp and decode the unfinished rest again.
pub fn split_window(
    tokens: &[u32],
    timestamp_begin: u32,
    time_offset: f64,
    window_frames: usize,
) -> (Vec<Piece>, usize) {
    let is_ts = |t: u32| t >= timestamp_begin;
    let secs = |t: u32| f64::from(t - timestamp_begin) * TIMESTAMP_STEP;
    let n = tokens.len();
    let single_ending = n >= 2 && !is_ts(tokens[n - 2]) && is_ts(tokens[n - 1]);
    let mut cuts: Vec<usize> = (1..n)
        .filter(|&i| is_ts(tokens[i - 1]) && is_ts(tokens[i]))
        .collect();
    if !cuts.is_empty() {
        if single_ending {
            cuts.push(n);
        }
        let mut pieces = Vec::new();
        let mut from = 0;
        for &to in &cuts {
            let s = &tokens[from..to];
            let (first, last) = (s[0], s[s.len() - 1]);
            let start = if is_ts(first) { secs(first) } else { 0.0 };
            let end = if is_ts(last) { secs(last) } else { start };
            pieces.push(Piece {
                start: time_offset + start,
                end: time_offset + end,
                tokens: s.to_vec(),
            });
            from = to;
        }
        let seek = if single_ending {
            window_frames
        } else {
            (tokens[from - 1] - timestamp_begin) as usize * FRAMES_PER_TIMESTAMP
        };
        return (pieces, seek);
    }
    // No closed pair: one piece for the whole window, ending at its last timestamp if any.
    let mut duration = window_frames as f64 * HOP_LENGTH as f64 / SAMPLE_RATE as f64;
    if let Some(&last) = tokens.iter().rev().find(|&&t| is_ts(t))
        && last != timestamp_begin
    {
        duration = secs(last);
    }
    let piece = Piece {
        start: time_offset,
        end: time_offset + duration,
        tokens: tokens.to_vec(),
    };
    (vec![piece], window_frames)
}

/// openai-whisper's rule: a window is silence if no-speech is likely and the text is unsure.
pub fn is_silence(r: &WindowResult) -> bool {
    r.no_speech_prob > NO_SPEECH_THRESHOLD && r.avg_logprob < LOGPROB_THRESHOLD
}

fn needs_fallback(r: &WindowResult) -> bool {
    if is_silence(r) {
        return false;
    }
    r.compression_ratio > COMPRESSION_RATIO_THRESHOLD || r.avg_logprob < LOGPROB_THRESHOLD
}

pub struct LongForm<'a> {
    pub window: WindowDecoder<'a>,
    /// 16 kHz samples, for the digital-silence check.
    pub pcm: &'a [f32],
    pub encoder: candle_transformers::models::whisper::model::AudioEncoder,
    /// SOT, then language and task on multilingual models; `None` language = detect.
    pub language: Option<u32>,
    pub multilingual: bool,
    pub initial_prompt: Vec<u32>,
}

pub struct Decoded {
    pub language: Option<u32>,
    pub segments: Vec<Segment>,
}

impl LongForm<'_> {
    pub fn run(
        mut self,
        mel: &LogMel,
        content_frames: usize,
        progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
    ) -> Result<Decoded, TranscribeError> {
        let total = content_frames as f64 * HOP_LENGTH as f64 / SAMPLE_RATE as f64;
        let mut seek = 0;
        let mut segments: Vec<Segment> = Vec::new();
        let mut context: Vec<u32> = self.initial_prompt.clone();
        let mut rng = Rng::new(0x5eed);
        while seek < content_frames {
            let window_frames = N_FRAMES.min(content_frames - seek);
            let time_offset = seek as f64 * HOP_LENGTH as f64 / SAMPLE_RATE as f64;
            if is_digital_silence(self.pcm, seek, window_frames) {
                seek += window_frames;
                report(progress, seek, total)?;
                continue;
            }
            let audio = self.encode(mel, seek)?;
            if self.multilingual && self.language.is_none() {
                self.language = self.window.detect_language(&audio).map_err(model_err)?;
            }
            let (prompt, sot_index) = self.prompt(&context);
            let r = self.decode_with_fallback(&audio, &prompt, sot_index, &mut rng)?;
            let advance = if is_silence(&r) {
                window_frames
            } else {
                let (pieces, advance) = split_window(
                    &r.tokens,
                    self.window.special.timestamp_begin,
                    time_offset,
                    window_frames,
                );
                for p in pieces {
                    let text = self.window.text(&p.tokens);
                    // openai-whisper blanks instantaneous or empty pieces; we leave them out.
                    if p.end <= p.start || text.trim().is_empty() {
                        continue;
                    }
                    context.extend_from_slice(&p.tokens);
                    segments.push(segment(segments.len(), seek, p, text, &r));
                }
                advance
            };
            // A window whose only timestamp is <|0.00|> would not move; never loop in place.
            seek += advance.max(1);
            if r.temperature > 0.5 {
                // openai-whisper stops conditioning on text that needed a hot fallback.
                context.clear();
            }
            report(progress, seek, total)?;
        }
        Ok(Decoded {
            language: self.language,
            segments,
        })
    }

    fn encode(
        &mut self,
        mel: &LogMel,
        seek: usize,
    ) -> Result<candle_core::Tensor, TranscribeError> {
        let input = mel.window(seek).map_err(model_err)?;
        self.encoder.forward(&input, true).map_err(model_err)
    }

    /// `<|startofprev|>` + the last 223 context tokens, then the SOT sequence.
    pub(crate) fn prompt(&self, context: &[u32]) -> (Vec<u32>, usize) {
        let s = self.window.special;
        let mut p = Vec::new();
        if let (Some(prev), false) = (s.start_of_prev, context.is_empty()) {
            let keep = self.window.decoder.max_len() / 2 - 1;
            p.push(prev);
            p.extend_from_slice(&context[context.len().saturating_sub(keep)..]);
        }
        let sot_index = p.len();
        p.push(s.sot);
        if self.multilingual {
            if let Some(lang) = self.language {
                p.push(lang);
            }
            p.push(s.transcribe);
        }
        (p, sot_index)
    }

    fn decode_with_fallback(
        &self,
        audio: &candle_core::Tensor,
        prompt: &[u32],
        sot_index: usize,
        rng: &mut Rng,
    ) -> Result<WindowResult, TranscribeError> {
        let mut result = None;
        for t in TEMPERATURES {
            let r = self
                .window
                .decode(audio, prompt, sot_index, t, rng)
                .map_err(model_err)?;
            let done = !needs_fallback(&r);
            result = Some(r);
            if done {
                break;
            }
        }
        result.ok_or_else(|| TranscribeError::Model("no temperature was tried".into()))
    }
}

fn report(
    progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
    seek: usize,
    total: f64,
) -> Result<(), TranscribeError> {
    let processed = (seek as f64 * HOP_LENGTH as f64 / SAMPLE_RATE as f64).min(total);
    match progress(Progress {
        processed_seconds: processed,
        total_seconds: total,
    }) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(TranscribeError::Cancelled),
    }
}

/// Peak amplitude below which a window is not decoded at all (−60 dBFS). Whisper's no-speech
/// rule lets through short confident hallucinations on silence (tiny.en says " you" with
/// avg_logprob −0.7 on zeros), and a muted stretch of a recording is common; a window this quiet
/// holds no intelligible speech.
pub const SILENCE_PEAK: f32 = 1e-3;

pub fn is_digital_silence(pcm: &[f32], seek: usize, frames: usize) -> bool {
    let from = (seek * HOP_LENGTH).min(pcm.len());
    let to = ((seek + frames) * HOP_LENGTH).min(pcm.len());
    pcm[from..to].iter().all(|x| x.abs() < SILENCE_PEAK)
}

fn segment(id: usize, seek: usize, p: Piece, text: String, r: &WindowResult) -> Segment {
    Segment {
        id,
        seek,
        start: round_ms(p.start),
        end: round_ms(p.end),
        text,
        tokens: p.tokens,
        temperature: r.temperature,
        avg_logprob: r.avg_logprob,
        compression_ratio: r.compression_ratio,
        no_speech_prob: r.no_speech_prob,
    }
}

/// Timestamp steps are 20 ms; rounding hides float noise such as 4.4799999 in the JSON.
fn round_ms(s: f64) -> f64 {
    (s * 1000.0).round() / 1000.0
}

fn model_err(e: candle_core::Error) -> TranscribeError {
    TranscribeError::Model(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TB: u32 = 1000;
    const fn ts(secs_x50: u32) -> u32 {
        TB + secs_x50
    }

    #[test]
    fn pairs_cut_segments_and_a_trailing_open_segment_is_decoded_again() {
        // <0.00> a b <1.00><1.00> c <2.00><2.00> d   (the last sentence has no closing timestamp)
        let t = [ts(0), 1, 2, ts(50), ts(50), 3, ts(100), ts(100), 4];
        let (pieces, seek) = split_window(&t, TB, 30.0, 3000);
        assert_eq!(pieces.len(), 2);
        assert_eq!(
            pieces[0],
            Piece {
                start: 30.0,
                end: 31.0,
                tokens: vec![ts(0), 1, 2, ts(50)]
            }
        );
        assert_eq!((pieces[1].start, pieces[1].end), (31.0, 32.0));
        // Seek to the last closing timestamp, 2.00 s = 200 frames.
        assert_eq!(seek, 200);
    }

    #[test]
    fn a_single_timestamp_ending_keeps_the_last_segment_and_seeks_to_the_window_end() {
        let t = [ts(0), 1, ts(50), ts(50), 2, ts(120)];
        let (pieces, seek) = split_window(&t, TB, 0.0, 3000);
        assert_eq!(pieces.len(), 2);
        assert_eq!((pieces[1].start, pieces[1].end), (1.0, 2.4));
        assert_eq!(pieces[1].tokens, vec![ts(50), 2, ts(120)]);
        assert_eq!(seek, 3000);
    }

    #[test]
    fn without_pairs_one_segment_spans_to_the_last_timestamp() {
        let (pieces, seek) = split_window(&[ts(10), 1, 2, ts(150)], TB, 5.0, 3000);
        assert_eq!(
            pieces,
            vec![Piece {
                start: 5.0,
                end: 8.0,
                tokens: vec![ts(10), 1, 2, ts(150)]
            }]
        );
        assert_eq!(seek, 3000);
        // No timestamp at all: the piece covers the (short, final) window.
        let (pieces, seek) = split_window(&[1, 2], TB, 0.0, 500);
        assert_eq!((pieces[0].start, pieces[0].end, seek), (0.0, 5.0, 500));
    }

    #[test]
    fn digital_silence_is_judged_on_the_window_only() {
        let mut pcm = vec![0.0005f32; 16_000 * 40];
        pcm[16_000 * 35] = 0.2;
        assert!(is_digital_silence(&pcm, 0, 3000));
        assert!(!is_digital_silence(&pcm, 3000, 1000));
        // A window past the end of the samples (the zero padding) is silent.
        assert!(is_digital_silence(&pcm, 4000, 3000));
    }

    #[test]
    fn silence_needs_both_a_likely_no_speech_and_an_unsure_text() {
        let r = |no_speech_prob, avg_logprob| WindowResult {
            tokens: vec![],
            avg_logprob,
            no_speech_prob,
            temperature: 0.0,
            compression_ratio: 1.0,
        };
        assert!(is_silence(&r(0.9, -1.5)));
        assert!(!is_silence(&r(0.9, -0.3)));
        assert!(!is_silence(&r(0.2, -1.5)));
        assert!(!needs_fallback(&r(0.9, -1.5)));
        assert!(needs_fallback(&r(0.2, -1.5)));
    }
}
