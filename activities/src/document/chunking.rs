//! Cutting a transcript into chunks that fit one LLM prompt, along segment boundaries.
//!
//! Tokens are counted with tiktoken's `cl100k_base`: not every model's tokenizer, but close
//! enough for budgeting, and the same in every build. Each line carries its `[mm:ss]`
//! timestamp, so summaries can cite moments of the recording.

use std::fmt::Write;

/// One transcript segment, as stored in `transcript_segments`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
    pub speaker: Option<String>,
}

/// A run of consecutive segments, rendered one line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub idx: u32,
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
    /// Tokens of `text`, as [`count_tokens`] counts them.
    pub tokens: u32,
}

pub fn count_tokens(text: &str) -> u32 {
    tiktoken_rs::cl100k_base_singleton().count_ordinary(text) as u32
}

/// `[mm:ss]`, or `[h:mm:ss]` from the first hour on.
pub fn timestamp(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("[{h}:{m:02}:{s:02}]")
    } else {
        format!("[{m:02}:{s:02}]")
    }
}

/// `[mm:ss] Speaker: text`, on one line.
pub fn render(segment: &Segment) -> String {
    let mut line = timestamp(segment.start_ms);
    line.push(' ');
    if let Some(speaker) = segment.speaker.as_deref().filter(|s| !s.trim().is_empty()) {
        let _ = write!(line, "{}: ", speaker.trim());
    }
    // A newline inside a segment would start a line without a timestamp.
    line.push_str(
        &segment
            .text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    );
    line
}

/// Chunks of at most `max_tokens` tokens each. A segment too long for one chunk on its
/// own (a provider that returns one segment for the whole recording) is first cut between
/// words, its time shared out in proportion to the words.
pub fn chunk(segments: &[Segment], max_tokens: u32) -> Vec<Chunk> {
    let max_tokens = max_tokens.max(32);
    let lines: Vec<(Segment, String, u32)> = segments
        .iter()
        .flat_map(|s| fit(s, max_tokens))
        .map(|s| {
            let line = render(&s);
            // The newline that joins lines is one token of its own in cl100k_base.
            let tokens = count_tokens(&line) + 1;
            (s, line, tokens)
        })
        .collect();
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut current: Option<Chunk> = None;
    for (segment, line, tokens) in lines {
        if let Some(c) = current.as_mut()
            && c.tokens + tokens <= max_tokens
        {
            c.text.push('\n');
            c.text.push_str(&line);
            c.tokens += tokens;
            c.end_ms = c.end_ms.max(segment.end_ms);
            continue;
        }
        chunks.extend(current.take());
        current = Some(Chunk {
            idx: chunks.len() as u32,
            start_ms: segment.start_ms,
            end_ms: segment.end_ms,
            text: line,
            tokens,
        });
    }
    chunks.extend(current);
    chunks
}

/// `segment`, or pieces of it that each fit `max_tokens` once rendered.
fn fit(segment: &Segment, max_tokens: u32) -> Vec<Segment> {
    if count_tokens(&render(segment)) < max_tokens {
        return vec![segment.clone()];
    }
    let words: Vec<&str> = segment.text.split_whitespace().collect();
    let span = (segment.end_ms - segment.start_ms).max(0);
    let at = |i: usize| segment.start_ms + span * i as i64 / words.len().max(1) as i64;
    // The timestamp and speaker take a few tokens; words take one to a few each.
    let budget = max_tokens.saturating_sub(16).max(8);
    let mut pieces = Vec::new();
    let (mut from, mut tokens) = (0, 0);
    for (i, word) in words.iter().enumerate() {
        let t = count_tokens(&format!(" {word}"));
        if i > from && tokens + t > budget {
            pieces.push(piece(segment, &words, from, i, at(from), at(i)));
            (from, tokens) = (i, 0);
        }
        tokens += t;
    }
    pieces.push(piece(
        segment,
        &words,
        from,
        words.len(),
        at(from),
        segment.end_ms,
    ));
    pieces
}

fn piece(s: &Segment, words: &[&str], from: usize, to: usize, start: i64, end: i64) -> Segment {
    Segment {
        start_ms: start,
        end_ms: end.max(start),
        text: words[from..to].join(" "),
        speaker: s.speaker.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start_s: i64, text: &str) -> Segment {
        Segment {
            start_ms: start_s * 1000,
            end_ms: start_s * 1000 + 4000,
            text: text.into(),
            speaker: Some("A".into()),
        }
    }

    #[test]
    fn timestamps_switch_to_hours_after_the_first() {
        assert_eq!(timestamp(0), "[00:00]");
        assert_eq!(timestamp(754_999), "[12:34]");
        assert_eq!(timestamp(3_723_000), "[1:02:03]");
    }

    #[test]
    fn chunks_fit_and_follow_segment_boundaries() {
        let segments: Vec<Segment> = (0..40)
            .map(|i| {
                seg(
                    i * 5,
                    &format!("point number {i} about the upload pipeline"),
                )
            })
            .collect();
        let chunks = chunk(&segments, 60);
        assert!(chunks.len() > 1);
        for c in &chunks {
            assert!(count_tokens(&c.text) <= 60, "{c:?}");
            assert!(c.text.lines().all(|l| l.starts_with('[')));
        }
        let lines: Vec<&str> = chunks.iter().flat_map(|c| c.text.lines()).collect();
        assert_eq!(lines.len(), 40, "no segment split or lost");
    }

    #[test]
    fn an_oversized_segment_is_cut_between_words() {
        let long = vec!["word"; 500].join(" ");
        let chunks = chunk(&[seg(0, &long)], 100);
        assert!(chunks.len() >= 5);
        assert!(chunks.iter().all(|c| count_tokens(&c.text) <= 100));
        assert!(chunks.windows(2).all(|w| w[0].start_ms <= w[1].start_ms));
    }
}
