//! Cutting decoded audio into the pieces a synchronous provider accepts, and encoding them.
//!
//! Whisper takes at most 25 MB per request, and long requests are slow to retry; a cut in
//! the middle of a word costs that word in both halves. So each piece stays under a size
//! and a duration, and ends at the quietest moment near its limit rather than at the limit.

use std::{io::Cursor, ops::Range};

use mediadocs_audio::TARGET_RATE;

/// A WAV header before the samples: what a chunk costs beyond 2 bytes a sample.
const WAV_HEADER: u64 = 44;
/// Loudness is compared over 100 ms frames: shorter than a pause between sentences, longer
/// than the gap between two syllables.
const FRAME: usize = TARGET_RATE as usize / 10;
/// How far back from a chunk's limit a quieter cut is looked for.
const SEARCH_SECS: usize = 30;

pub use mediadocs_settings::transcription::ChunkLimits;

/// Samples per chunk that keep both limits.
fn max_samples(limits: &ChunkLimits) -> usize {
    let by_time = limits.max_secs * u64::from(TARGET_RATE);
    let by_size = limits.max_bytes.saturating_sub(WAV_HEADER) / 2;
    usize::try_from(by_time.min(by_size).max(FRAME as u64)).unwrap_or(usize::MAX)
}

/// Consecutive sample ranges covering `len` samples (16 kHz mono), each within `limits`.
/// `window(range)` reads the samples of `range`: only the stretches searched for a pause
/// are read, so the audio need not be in memory.
pub fn plan<E>(
    len: usize,
    limits: ChunkLimits,
    mut window: impl FnMut(Range<usize>) -> Result<Vec<f32>, E>,
) -> Result<Vec<Range<usize>>, E> {
    let max = max_samples(&limits);
    let search = (SEARCH_SECS * TARGET_RATE as usize).min(max / 4);
    let mut chunks = Vec::new();
    let mut start = 0;
    while len - start > max {
        let limit = start + max;
        let searched = window(limit - search..limit)?;
        let cut = quietest_frame_end(&searched).map_or(limit, |at| limit - search + at);
        chunks.push(start..cut);
        start = cut;
    }
    if start < len {
        chunks.push(start..len);
    }
    Ok(chunks)
}

/// Where in `window` the quietest whole frame ends; the latest one wins a tie, so chunks
/// stay as long as they may.
fn quietest_frame_end(window: &[f32]) -> Option<usize> {
    window
        .chunks_exact(FRAME)
        .map(|f| f.iter().map(|s| s * s).sum::<f32>())
        .enumerate()
        .min_by(|(i, a), (j, b)| a.total_cmp(b).then(j.cmp(i)))
        .map(|(i, _)| (i + 1) * FRAME)
}

/// 16-bit PCM WAV at 16 kHz: the smallest lossless format every Whisper server reads.
pub fn wav(samples: &[i16]) -> Result<Vec<u8>, hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: TARGET_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::with_capacity(WAV_HEADER as usize + samples.len() * 2));
    let mut writer = hound::WavWriter::new(&mut out, spec)?;
    for s in samples {
        writer.write_sample(*s)?;
    }
    writer.finalize()?;
    Ok(out.into_inner())
}

/// Milliseconds from the start of the audio to a sample position.
pub fn sample_ms(sample: usize) -> i64 {
    (sample as u64 * 1000 / u64::from(TARGET_RATE)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: usize = TARGET_RATE as usize;

    fn tone(seconds: usize) -> Vec<f32> {
        (0..seconds * RATE)
            .map(|i| 0.5 * (i as f32 * 0.05).sin())
            .collect()
    }

    fn pcm16(samples: &[f32]) -> Vec<i16> {
        samples
            .iter()
            .map(|s| crate::media::pcm::to_i16(*s))
            .collect()
    }

    fn plan_of(audio: &[f32], limits: ChunkLimits) -> Vec<Range<usize>> {
        plan(audio.len(), limits, |r| Ok::<_, ()>(audio[r].to_vec())).unwrap()
    }

    #[test]
    fn chunks_cover_everything_within_both_limits() {
        let audio = tone(65);
        for limits in [
            ChunkLimits {
                max_secs: 20,
                max_bytes: 24_000_000,
            },
            ChunkLimits {
                max_secs: 600,
                max_bytes: 200_044,
            }, // 100k samples: 6.25 s
        ] {
            let chunks = plan_of(&audio, limits);
            assert_eq!(chunks.first().unwrap().start, 0);
            assert_eq!(chunks.last().unwrap().end, audio.len());
            for pair in chunks.windows(2) {
                assert_eq!(pair[0].end, pair[1].start, "{limits:?}");
            }
            for c in &chunks {
                assert!(c.len() <= max_samples(&limits), "{limits:?}: {c:?}");
                assert!(wav(&pcm16(&audio[c.clone()])).unwrap().len() as u64 <= limits.max_bytes);
            }
        }
    }

    #[test]
    fn cuts_fall_in_a_pause_near_the_limit() {
        // Speech, with one second of silence from 12 s, then more speech.
        let mut audio = tone(30);
        audio[12 * RATE..13 * RATE]
            .iter_mut()
            .for_each(|s| *s = 0.0);
        // The limit falls at 14 s; the pause is in the stretch searched before it.
        let chunks = plan_of(
            &audio,
            ChunkLimits {
                max_secs: 14,
                max_bytes: u64::MAX,
            },
        );
        let cut = chunks[0].end;
        assert!((12 * RATE..=13 * RATE).contains(&cut), "cut at {cut}");
        assert!(
            plan_of(
                &[],
                ChunkLimits {
                    max_secs: 20,
                    max_bytes: u64::MAX
                }
            )
            .is_empty()
        );
    }

    #[test]
    fn wav_chunks_carry_their_duration() {
        let bytes = wav(&pcm16(&tone(2))).unwrap();
        let reader = hound::WavReader::new(Cursor::new(bytes)).unwrap();
        assert_eq!(reader.spec().sample_rate, TARGET_RATE);
        assert_eq!(reader.duration() as usize, 2 * RATE);
        assert_eq!(sample_ms(RATE * 3 / 2), 1500);
    }
}
