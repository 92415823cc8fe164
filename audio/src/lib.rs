//! A recording's audio as speech recognisers want it: the first audio track, mixed down to
//! mono, resampled to 16 kHz. The worker uses it to cut WAV chunks for synchronous
//! providers, and the local model server to feed its own Whisper.

mod decode;
mod resample;

pub use decode::{
    DecodeError, MAX_SOURCE_RATE, MIN_SOURCE_RATE, TARGET_RATE, declared_duration_secs,
    decode_mono_16k, decode_mono_16k_into,
};
pub use resample::Resampler;
pub use symphonia::core::io::{MediaSource, ReadOnlySource};

use symphonia::core::codecs::{CODEC_TYPE_NULL, CodecParameters};

/// symphonia 0.5 describes audio tracks only; any other track (video, subtitles) reaches us
/// with neither a codec nor a sample rate.
pub fn is_audio(p: &CodecParameters) -> bool {
    p.codec != CODEC_TYPE_NULL || p.sample_rate.is_some()
}
