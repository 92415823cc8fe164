//! Cutting a transcript into passages: spans of a few hundred cl100k_base tokens along
//! segment boundaries, each overlapping the previous by about one sentence, so that a
//! thought split by a boundary is still whole in one of the two passages.
//!
//! Pure and deterministic: the same segments always give the same passages, which is what
//! lets the embed activity upsert by passage index.

use tiktoken_rs::{CoreBPE, cl100k_base_singleton};

/// One transcript segment, as stored in `transcript_segments`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub idx: i32,
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
    pub speaker: Option<String>,
}

/// A span of consecutive segments (or, for a very long segment, part of one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    pub idx: u32,
    pub first_segment: i32,
    pub last_segment: i32,
    pub start_ms: i64,
    pub end_ms: i64,
    /// One line per segment, `speaker: text` when the speaker is known.
    pub text: String,
    /// cl100k_base tokens of `text`.
    pub tokens: usize,
}

/// Passage sizes in cl100k_base tokens. `min < target <= max`, `overlap < min`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizing {
    /// No passage but the last is shorter.
    pub min: usize,
    /// A passage stops growing once it reaches this.
    pub target: usize,
    /// No passage is longer.
    pub max: usize,
    /// Roughly this many tokens of whole segments at the end of a passage start the next.
    pub overlap: usize,
}

impl Default for Sizing {
    fn default() -> Self {
        Self {
            min: 200,
            target: 300,
            max: 400,
            overlap: 50,
        }
    }
}

/// The unit of packing: a segment's line, or a piece of an overlong one.
struct Unit {
    segment: i32,
    start_ms: i64,
    end_ms: i64,
    line: String,
    /// Tokens of the line with its newline. Lines are trimmed, so the tokenizer's pre-split
    /// always breaks after the newline: a passage has the sum of its lines' tokens, or one
    /// fewer (no newline after the last).
    tokens: usize,
}

/// Cuts `segments` (in transcript order) into passages of `sizing`.
pub fn split(segments: &[Segment], sizing: Sizing) -> Vec<Passage> {
    let bpe = cl100k_base_singleton();
    // A unit shorter than max - min always fits behind a passage still under min, so every
    // passage but the last reaches min.
    let units = units(bpe, segments, sizing.max - sizing.min - 1);
    let mut passages = Vec::new();
    let mut start = 0;
    while start < units.len() {
        let mut end = start;
        let mut tokens = 0;
        while end < units.len()
            && (end == start
                || (tokens < sizing.target && tokens + units[end].tokens <= sizing.max))
        {
            tokens += units[end].tokens;
            end += 1;
        }
        // A short tail that fits joins this passage rather than standing alone.
        let rest: usize = units[end..].iter().map(|u| u.tokens).sum();
        if end < units.len() && rest < sizing.min && tokens + rest <= sizing.max {
            end = units.len();
        }
        passages.push(passage(bpe, passages.len() as u32, &units[start..end]));
        if end == units.len() {
            break;
        }
        start = overlap_start(&units[start..end], sizing.overlap) + start;
    }
    passages
}

/// Where the next passage starts within `taken`: at the last whole segments worth about
/// `overlap` tokens, but always after `taken`'s first unit, so that every passage advances.
fn overlap_start(taken: &[Unit], overlap: usize) -> usize {
    let mut k = taken.len();
    let mut repeated = 0;
    while k > 1 {
        let t = taken[k - 1].tokens;
        // One unit up to twice the overlap may be repeated alone; never more than that.
        if repeated + t > overlap && (repeated > 0 || t > 2 * overlap) {
            break;
        }
        repeated += t;
        k -= 1;
    }
    k
}

fn passage(bpe: &CoreBPE, idx: u32, units: &[Unit]) -> Passage {
    let text = units
        .iter()
        .map(|u| u.line.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let first = &units[0];
    let last = &units[units.len() - 1];
    Passage {
        idx,
        first_segment: first.segment,
        last_segment: last.segment,
        start_ms: first.start_ms,
        end_ms: units.iter().map(|u| u.end_ms).max().unwrap_or(last.end_ms),
        tokens: bpe.encode_ordinary(&text).len(),
        text,
    }
}

fn units(bpe: &CoreBPE, segments: &[Segment], piece_max: usize) -> Vec<Unit> {
    let mut units = Vec::with_capacity(segments.len());
    for s in segments {
        let text = s.text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            continue;
        }
        let line = match &s.speaker {
            Some(speaker) => format!("{speaker}: {text}"),
            None => text,
        };
        let tokens = line_tokens(bpe, &line);
        if tokens <= piece_max {
            units.push(Unit {
                segment: s.idx,
                start_ms: s.start_ms,
                end_ms: s.end_ms,
                line,
                tokens,
            });
        } else {
            // Word by word the count is a little off; the margin keeps each piece under max.
            units.extend(pieces(bpe, s, &line, piece_max.saturating_sub(8).max(1)));
        }
    }
    units
}

/// Cuts an overlong segment (a long monologue is one utterance) at word boundaries into
/// pieces of at most `piece_max` tokens, timing each by its share of the characters.
fn pieces(bpe: &CoreBPE, s: &Segment, line: &str, piece_max: usize) -> Vec<Unit> {
    let total_chars = line.chars().count().max(1) as i64;
    let span = s.end_ms - s.start_ms;
    let at = |chars: usize| s.start_ms + span * chars as i64 / total_chars;
    let mut out = Vec::new();
    let (mut piece, mut piece_tokens, mut chars_before) = (String::new(), 0, 0);
    for word in line.split(' ') {
        let word_tokens = bpe.encode_ordinary(&format!(" {word}")).len();
        if !piece.is_empty() && piece_tokens + word_tokens > piece_max {
            let len = piece.chars().count();
            out.push(piece_unit(
                bpe,
                s.idx,
                at(chars_before),
                at(chars_before + len),
                piece,
            ));
            chars_before += len + 1;
            (piece, piece_tokens) = (String::new(), 0);
        }
        if !piece.is_empty() {
            piece.push(' ');
        }
        piece.push_str(word);
        piece_tokens += word_tokens;
    }
    if !piece.is_empty() {
        out.push(piece_unit(bpe, s.idx, at(chars_before), s.end_ms, piece));
    }
    out
}

fn piece_unit(bpe: &CoreBPE, segment: i32, start_ms: i64, end_ms: i64, line: String) -> Unit {
    Unit {
        segment,
        start_ms,
        end_ms,
        tokens: line_tokens(bpe, &line),
        line,
    }
}

fn line_tokens(bpe: &CoreBPE, line: &str) -> usize {
    bpe.encode_ordinary(&format!("{line}\n")).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(idx: i32, words: usize) -> Segment {
        Segment {
            idx,
            start_ms: i64::from(idx) * 5_000,
            end_ms: i64::from(idx) * 5_000 + 4_000,
            text: (0..words)
                .map(|w| format!("word{}", (idx as usize * 7 + w) % 50))
                .collect::<Vec<_>>()
                .join(" "),
            speaker: Some(if idx % 3 == 0 { "A" } else { "B" }.into()),
        }
    }

    #[test]
    fn sizes_overlap_and_determinism() {
        let segments: Vec<_> = (0..120)
            .map(|i| segment(i, 10 + (i as usize % 20)))
            .collect();
        let passages = split(&segments, Sizing::default());
        assert!(passages.len() > 3);
        assert_eq!(passages, split(&segments, Sizing::default()));
        for (i, p) in passages.iter().enumerate() {
            assert_eq!(p.idx as usize, i);
            assert!(p.tokens <= 400, "passage {i}: {} tokens", p.tokens);
            if i + 1 < passages.len() {
                assert!(p.tokens >= 200, "passage {i}: {} tokens", p.tokens);
                let next = &passages[i + 1];
                assert!(next.first_segment <= p.last_segment, "no overlap after {i}");
                assert!(next.first_segment > p.first_segment);
            }
        }
        assert_eq!(passages.last().unwrap().last_segment, 119);
    }

    #[test]
    fn an_overlong_segment_is_cut_at_words() {
        let long = Segment {
            idx: 0,
            start_ms: 0,
            end_ms: 600_000,
            text: vec!["lorem ipsum dolor sit amet"; 400].join(" "),
            speaker: None,
        };
        let passages = split(&[long], Sizing::default());
        assert!(passages.len() > 5);
        for p in &passages {
            assert!(p.tokens <= 400, "{} tokens", p.tokens);
            assert!(p.start_ms <= p.end_ms && p.end_ms <= 600_000);
        }
        assert!(passages.windows(2).all(|w| w[0].start_ms < w[1].start_ms));
        assert_eq!(passages.last().unwrap().end_ms, 600_000);
    }

    #[test]
    fn empty_and_blank_transcripts_have_no_passages() {
        assert!(split(&[], Sizing::default()).is_empty());
        let blank = Segment {
            idx: 0,
            start_ms: 0,
            end_ms: 10,
            text: "  ".into(),
            speaker: None,
        };
        assert!(split(&[blank], Sizing::default()).is_empty());
    }
}
