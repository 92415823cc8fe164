//! A transcript's cues as subtitles: SubRip (`.srt`), WebVTT (`.vtt`) and a plain-text
//! transcript (`.txt`).
//!
//! The SRT and WebVTT files are laid out by `subtp` (sequence numbers, timings, the header,
//! blank lines between cues); what goes into a cue is decided here, because `subtp` writes
//! payload lines verbatim: the speaker (an `Alice: ` prefix in SRT, a `<v Alice>` voice
//! span in WebVTT), WebVTT's escaping of `&`, `<` and `>`, and one line per cue.

use subtp::srt::{SrtSubtitle, SrtTimestamp, SubRip};
use subtp::vtt::{VttBlock, VttCue, VttTimestamp, VttTimings, WebVtt};

use crate::timestamps;

/// One stretch of speech.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cue {
    pub start_ms: u64,
    pub end_ms: u64,
    pub speaker: Option<String>,
    pub text: String,
}

/// SubRip: cues numbered from 1, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, LF line ends.
pub fn srt(cues: &[Cue]) -> String {
    let subtitles = lines(cues)
        .zip(1..)
        .map(|(line, sequence)| {
            let (start, end) = line.timing();
            let text = match line.speaker {
                Some(speaker) => format!("{speaker}: {}", line.text),
                None => line.text,
            };
            SrtSubtitle {
                sequence,
                start: srt_timestamp(start),
                end: srt_timestamp(end),
                text: vec![text],
                line_position: None,
            }
        })
        .collect();
    SubRip { subtitles }.render()
}

/// WebVTT: the `WEBVTT` header, then cues `HH:MM:SS.mmm --> HH:MM:SS.mmm`, the speaker as a
/// voice span (`<v Alice>text`).
pub fn vtt(cues: &[Cue]) -> String {
    let blocks = lines(cues)
        .map(|line| {
            let (start, end) = line.timing();
            let text = escape_vtt(&line.text);
            let payload = match line.speaker {
                Some(speaker) => format!("<v {}>{text}", escape_vtt(&speaker)),
                None => text,
            };
            VttBlock::Que(VttCue {
                timings: VttTimings {
                    start: vtt_timestamp(start),
                    end: vtt_timestamp(end),
                },
                payload: vec![payload],
                ..Default::default()
            })
        })
        .collect();
    WebVtt {
        blocks,
        ..Default::default()
    }
    .render()
}

/// A plain transcript, one `[mm:ss] Speaker: text` line per cue (`[h:mm:ss]` from an hour
/// on), in the notation documents cite the recording with.
pub fn txt(cues: &[Cue]) -> String {
    lines(cues)
        .map(|line| {
            let at = timestamps::format(line.start_ms / 1000);
            match line.speaker {
                Some(speaker) => format!("{at} {speaker}: {}\n", line.text),
                None => format!("{at} {}\n", line.text),
            }
        })
        .collect()
}

/// A cue as every format writes it: on one line, speaker and text with their whitespace
/// collapsed, and no cue left empty (a blank payload ends a cue in both SRT and WebVTT).
struct Line {
    start_ms: u64,
    end_ms: u64,
    speaker: Option<String>,
    text: String,
}

impl Line {
    /// A cue that ends before it starts would be rejected by players; it gets no length.
    fn timing(&self) -> (u64, u64) {
        (self.start_ms, self.end_ms.max(self.start_ms))
    }
}

fn lines(cues: &[Cue]) -> impl Iterator<Item = Line> + '_ {
    cues.iter().filter_map(|cue| {
        let text = one_line(&cue.text);
        (!text.is_empty()).then(|| Line {
            start_ms: cue.start_ms,
            end_ms: cue.end_ms,
            speaker: cue
                .speaker
                .as_deref()
                .map(one_line)
                .filter(|s| !s.is_empty()),
            text,
        })
    })
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// WebVTT cue text takes `&`, `<` and `>` only as escapes; escaping `>` also keeps a `-->`
/// in the text from reading as a timing line.
fn escape_vtt(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// `subtp` holds hours in a `u8`; past 255:59:59.999 (ten days of recording, which no
/// recording reaches) a time is clamped rather than wrapped.
fn hms(ms: u64) -> (u8, u8, u8, u16) {
    const MAX_MS: u64 = ((255 * 60 + 59) * 60 + 59) * 1000 + 999;
    let ms = ms.min(MAX_MS);
    let seconds = ms / 1000;
    // Each value is below its type's limit after the clamp and the remainders.
    (
        (seconds / 3600) as u8,
        (seconds / 60 % 60) as u8,
        (seconds % 60) as u8,
        (ms % 1000) as u16,
    )
}

fn srt_timestamp(ms: u64) -> SrtTimestamp {
    let (hours, minutes, seconds, milliseconds) = hms(ms);
    SrtTimestamp {
        hours,
        minutes,
        seconds,
        milliseconds,
    }
}

fn vtt_timestamp(ms: u64) -> VttTimestamp {
    let (hours, minutes, seconds, milliseconds) = hms(ms);
    VttTimestamp {
        hours,
        minutes,
        seconds,
        milliseconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(start_ms: u64, end_ms: u64, speaker: Option<&str>, text: &str) -> Cue {
        Cue {
            start_ms,
            end_ms,
            speaker: speaker.map(str::to_owned),
            text: text.to_owned(),
        }
    }

    /// Cues with what breaks naive writers: hours, 999 ms, speakers, markup, `&`, newlines,
    /// an empty cue and one that ends before it starts.
    fn sample() -> Vec<Cue> {
        vec![
            cue(0, 999, Some("Alice"), "Hello & welcome."),
            cue(1_000, 2_500, None, "   \n  "),
            cue(
                2_999,
                4_001,
                Some("Bob <QA>"),
                "Try <script>alert(1)</script> now",
            ),
            cue(5_000, 6_000, None, "first line\nsecond   line\r\nthird"),
            cue(
                3_723_999,
                3_725_001,
                Some("Alice"),
                "Over an hour in --> still fine",
            ),
            cue(36_000_000, 35_000_000, None, "Ends before it starts"),
        ]
    }

    /// (start, end, speaker, text) of the cues a writer must produce for `sample()`.
    fn expected() -> Vec<(u64, u64, Option<&'static str>, &'static str)> {
        vec![
            (0, 999, Some("Alice"), "Hello & welcome."),
            (
                2_999,
                4_001,
                Some("Bob <QA>"),
                "Try <script>alert(1)</script> now",
            ),
            (5_000, 6_000, None, "first line second line third"),
            (
                3_723_999,
                3_725_001,
                Some("Alice"),
                "Over an hour in --> still fine",
            ),
            (36_000_000, 36_000_000, None, "Ends before it starts"),
        ]
    }

    #[test]
    fn srt_round_trips_through_srtlib() {
        let written = srt(&sample());
        let parsed = srtlib::Subtitles::parse_from_str(written.clone())
            .unwrap_or_else(|e| panic!("srtlib rejects {written:?}: {e}"))
            .to_vec();
        let ms = |t: &srtlib::Timestamp| {
            let (h, m, s, ms) = t.get();
            u64::from(srtlib::Timestamp::convert_to_milliseconds(h, m, s, ms))
        };
        let got: Vec<_> = parsed
            .iter()
            .map(|s| {
                (
                    s.num,
                    ms(&s.start_time),
                    ms(&s.end_time),
                    s.text.trim_end().to_owned(),
                )
            })
            .collect();
        let want: Vec<_> = expected()
            .into_iter()
            .zip(1..)
            .map(|((start, end, speaker, text), num)| {
                let text = match speaker {
                    Some(speaker) => format!("{speaker}: {text}"),
                    None => text.to_owned(),
                };
                (num, start, end, text)
            })
            .collect();
        assert_eq!(got, want);
        assert!(
            written.starts_with("1\n00:00:00,000 --> 00:00:00,999\nAlice: Hello & welcome.\n\n2\n")
        );
        assert!(written.contains("\n01:02:03,999 --> 01:02:05,001\n"));
    }

    #[test]
    fn vtt_round_trips_through_webvtt_parser() {
        let written = vtt(&sample());
        let parsed = webvtt_parser::Vtt::parse(&written)
            .unwrap_or_else(|e| panic!("webvtt-parser rejects {written:?}: {e:?}"));
        let got: Vec<_> = parsed
            .cues
            .iter()
            .map(|c| {
                let (speaker, text) = voice(c.text);
                (
                    c.start.as_milliseconds(),
                    c.end.as_milliseconds(),
                    speaker,
                    text,
                )
            })
            .collect();
        let want: Vec<_> = expected()
            .into_iter()
            .map(|(start, end, speaker, text)| {
                (start, end, speaker.map(str::to_owned), text.to_owned())
            })
            .collect();
        assert_eq!(got, want);
        assert!(written.starts_with(
            "WEBVTT\n\n00:00:00.000 --> 00:00:00.999\n<v Alice>Hello &amp; welcome.\n\n"
        ));
        assert!(
            written.contains("<v Bob &lt;QA&gt;>Try &lt;script&gt;alert(1)&lt;/script&gt; now\n")
        );
        assert!(!written.contains("<script"));
    }

    /// The voice span and character references of a WebVTT payload, which webvtt-parser
    /// hands back raw: the payload must hold exactly one escaped line.
    fn voice(payload: &str) -> (Option<String>, String) {
        assert!(!payload.trim_end().contains('\n'), "{payload:?}");
        let unescape = |s: &str| {
            s.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        };
        let payload = payload.trim_end();
        match payload
            .strip_prefix("<v ")
            .and_then(|rest| rest.split_once('>'))
        {
            Some((speaker, text)) => {
                assert!(
                    !text.contains(['<', '>']),
                    "unescaped markup in {payload:?}"
                );
                (Some(unescape(speaker)), unescape(text))
            }
            None => {
                assert!(
                    !payload.contains(['<', '>']),
                    "unescaped markup in {payload:?}"
                );
                (None, unescape(payload))
            }
        }
    }

    #[test]
    fn txt_has_one_line_per_cue() {
        assert_eq!(
            txt(&sample()),
            "[00:00] Alice: Hello & welcome.\n\
             [00:02] Bob <QA>: Try <script>alert(1)</script> now\n\
             [00:05] first line second line third\n\
             [1:02:03] Alice: Over an hour in --> still fine\n\
             [10:00:00] Ends before it starts\n"
        );
    }

    #[test]
    fn no_cues_write_empty_files() {
        assert_eq!(srt(&[]), "");
        assert_eq!(vtt(&[]), "WEBVTT\n\n");
        assert_eq!(txt(&[]), "");
    }

    #[test]
    fn blank_speakers_are_no_speakers_and_times_clamp() {
        let cues = [cue(u64::MAX, u64::MAX, Some("  "), "late")];
        assert_eq!(srt(&cues), "1\n255:59:59,999 --> 255:59:59,999\nlate\n");
    }
}
