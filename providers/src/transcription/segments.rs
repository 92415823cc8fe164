//! Grouping word-level timings into segments, for providers whose output has words but no
//! utterances (AssemblyAI without speaker labels, Deepgram without `utterances`).

use super::Segment;

/// A timed word, whatever the provider called its fields.
pub(super) struct Word {
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
    pub speaker: Option<String>,
    pub confidence: Option<f32>,
}

/// A new segment starts at a change of speaker, after a pause, after a sentence once the
/// segment is long enough, or at a hard length cap: segments are what citations point at, so
/// they should be short enough to jump to and long enough to read.
const PAUSE_MS: i64 = 1_500;
const SOFT_WORDS: usize = 20;
const MAX_WORDS: usize = 60;

pub(super) fn from_words(words: impl IntoIterator<Item = Word>) -> Vec<Segment> {
    let mut segments: Vec<Segment> = Vec::new();
    let mut current: Vec<Word> = Vec::new();
    for word in words {
        if let Some(last) = current.last() {
            let sentence_end = last.text.ends_with(['.', '?', '!']);
            if last.speaker != word.speaker
                || word.start_ms - last.end_ms > PAUSE_MS
                || (sentence_end && current.len() >= SOFT_WORDS)
                || current.len() >= MAX_WORDS
            {
                segments.push(close(std::mem::take(&mut current)));
            }
        }
        current.push(word);
    }
    if !current.is_empty() {
        segments.push(close(current));
    }
    segments
}

fn close(words: Vec<Word>) -> Segment {
    let confidences: Vec<f32> = words.iter().filter_map(|w| w.confidence).collect();
    Segment {
        start_ms: words[0].start_ms,
        end_ms: words[words.len() - 1].end_ms,
        text: words
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        speaker: words[0].speaker.clone(),
        confidence: (!confidences.is_empty())
            .then(|| confidences.iter().sum::<f32>() / confidences.len() as f32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(start_ms: i64, text: &str, speaker: &str) -> Word {
        Word {
            start_ms,
            end_ms: start_ms + 300,
            text: text.into(),
            speaker: Some(speaker.into()),
            confidence: Some(0.5),
        }
    }

    #[test]
    fn splits_on_speaker_and_pause() {
        let segs = from_words([
            w(0, "Hello", "A"),
            w(400, "there.", "A"),
            w(800, "Hi", "B"),
            w(5_000, "again", "B"),
        ]);
        let texts: Vec<_> = segs.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["Hello there.", "Hi", "again"]);
        assert_eq!((segs[0].start_ms, segs[0].end_ms), (0, 700));
        assert_eq!(segs[1].speaker.as_deref(), Some("B"));
        assert_eq!(segs[0].confidence, Some(0.5));
    }

    #[test]
    fn caps_segment_length() {
        let segs = from_words((0..130).map(|i| w(i * 350, "word", "A")));
        assert_eq!(
            segs.iter()
                .map(|s| s.text.split(' ').count())
                .collect::<Vec<_>>(),
            [60, 60, 10]
        );
    }
}
