//! Decoding a recording's audio to 16 kHz mono f32.
//!
//! symphonia 0.5 demuxes Opus (the audio of every browser's WebM) but has no Opus decoder,
//! so Opus packets go to libopus; everything else to symphonia's own decoders.

use std::io;

use symphonia::core::{
    audio::SampleBuffer,
    codecs::{CODEC_TYPE_OPUS, DecoderOptions},
    errors::Error as SymphoniaError,
    formats::{FormatOptions, FormatReader, Packet, Track},
    io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions},
    meta::MetadataOptions,
    probe::Hint,
};

use crate::{is_audio, resample::Resampler};

pub const TARGET_RATE: u32 = 16_000;
/// The source rates accepted: telephone audio's 8 kHz up to studio 384 kHz. A header that
/// claims more (or less) is damaged or hostile, and its resampling kernel would be absurd.
pub const MIN_SOURCE_RATE: u32 = 4_000;
pub const MAX_SOURCE_RATE: u32 = 384_000;
/// libopus always decodes at 48 kHz here, whatever rate the encoder was fed.
const OPUS_RATE: u32 = 48_000;
/// The longest Opus packet: 120 ms at 48 kHz.
const OPUS_MAX_FRAME: usize = 5_760;

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the recording has no audio track")]
    NoAudioTrack,
    #[error("cannot decode this audio: {0}")]
    Unsupported(String),
    #[error("the audio is damaged: {0}")]
    Corrupt(String),
    #[error("reading the recording: {0}")]
    Io(#[from] io::Error),
}

impl From<SymphoniaError> for DecodeError {
    fn from(e: SymphoniaError) -> Self {
        match e {
            SymphoniaError::IoError(e) => Self::Io(e),
            SymphoniaError::Unsupported(m) => Self::Unsupported(m.into()),
            other => Self::Corrupt(other.to_string()),
        }
    }
}

/// Decodes the first audio track, mixed down to mono, at 16 kHz.
pub fn decode_mono_16k(source: Box<dyn MediaSource>) -> Result<Vec<f32>, DecodeError> {
    let mut all = Vec::new();
    decode_mono_16k_into(source, &mut |samples| {
        all.extend_from_slice(samples);
        Ok(())
    })?;
    Ok(all)
}

/// Decodes the first audio track, mixed down to mono, at 16 kHz, handing the samples to
/// `sink` a packet's worth at a time: memory stays flat however long the recording is.
/// Returns how many samples went to the sink.
pub fn decode_mono_16k_into(
    source: Box<dyn MediaSource>,
    sink: &mut dyn FnMut(&[f32]) -> Result<(), DecodeError>,
) -> Result<u64, DecodeError> {
    let (mut format, track) = first_audio_track(source)?;
    let mut out = Resampled {
        resampler: None,
        buf: Vec::new(),
        sink,
        samples: 0,
    };
    if track.codec_params.codec == CODEC_TYPE_OPUS {
        decode_opus(format.as_mut(), &track, &mut out)?;
    } else {
        decode_with_symphonia(format.as_mut(), &track, &mut out)?;
    }
    out.finish()?;
    Ok(out.samples)
}

/// Mono samples at the source's rate in, 16 kHz samples out to the sink.
struct Resampled<'a> {
    /// Made for the rate of the first decoded packet.
    resampler: Option<Resampler>,
    buf: Vec<f32>,
    sink: &'a mut dyn FnMut(&[f32]) -> Result<(), DecodeError>,
    samples: u64,
}

impl Resampled<'_> {
    fn push(&mut self, rate: u32, mono: &[f32]) -> Result<(), DecodeError> {
        if !(MIN_SOURCE_RATE..=MAX_SOURCE_RATE).contains(&rate) {
            return Err(DecodeError::Unsupported(format!(
                "a sample rate of {rate} Hz (accepted: {MIN_SOURCE_RATE} to {MAX_SOURCE_RATE} Hz)"
            )));
        }
        self.resampler
            .get_or_insert_with(|| Resampler::new(rate, TARGET_RATE))
            .push(mono, &mut self.buf);
        self.flush()
    }

    fn finish(&mut self) -> Result<(), DecodeError> {
        if let Some(r) = self.resampler.as_mut() {
            r.finish(&mut self.buf);
        }
        self.flush()
    }

    fn flush(&mut self) -> Result<(), DecodeError> {
        if !self.buf.is_empty() {
            (self.sink)(&self.buf)?;
            self.samples += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }
}

/// The track's next packet, or `None` at the end of the stream.
fn next_packet(format: &mut dyn FormatReader, track: u32) -> Result<Option<Packet>, DecodeError> {
    loop {
        match format.next_packet() {
            Ok(p) if p.track_id() == track => return Ok(Some(p)),
            Ok(_) => {}
            Err(SymphoniaError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn decode_opus(
    format: &mut dyn FormatReader,
    track: &Track,
    out: &mut Resampled<'_>,
) -> Result<(), DecodeError> {
    let opus_err = |e: opus::Error| DecodeError::Corrupt(format!("opus: {e}"));
    // Asking libopus for one channel makes it mix a stereo stream down itself.
    let mut decoder = opus::Decoder::new(OPUS_RATE, opus::Channels::Mono).map_err(opus_err)?;
    let mut skip = pre_skip(track.codec_params.extra_data.as_deref());
    let mut frame = vec![0f32; OPUS_MAX_FRAME];
    while let Some(packet) = next_packet(format, track.id)? {
        let n = decoder
            .decode_float(&packet.data, &mut frame, false)
            .map_err(opus_err)?;
        let dropped = skip.min(n);
        skip -= dropped;
        out.push(OPUS_RATE, &frame[dropped..n])?;
    }
    Ok(())
}

/// Samples the encoder's look-ahead put before the audio: OpusHead's pre-skip, a
/// little-endian u16 after the magic, the version and the channel count (RFC 7845 §5.1).
fn pre_skip(opus_head: Option<&[u8]>) -> usize {
    match opus_head {
        Some(h) if h.len() >= 12 && h.starts_with(b"OpusHead") => {
            usize::from(u16::from_le_bytes([h[10], h[11]]))
        }
        _ => 0,
    }
}

fn decode_with_symphonia(
    format: &mut dyn FormatReader,
    track: &Track,
    out: &mut Resampled<'_>,
) -> Result<(), DecodeError> {
    let mut decoder =
        symphonia::default::get_codecs().make(&track.codec_params, &DecoderOptions::default())?;
    let mut mono = Vec::new();
    while let Some(packet) = next_packet(format, track.id)? {
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // One damaged packet costs its few milliseconds, not the recording.
            Err(SymphoniaError::DecodeError(e)) => {
                tracing::warn!(error = e, "skipping an undecodable packet");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let spec = *decoded.spec();
        let mut interleaved = SampleBuffer::<f32>::new(decoded.capacity() as u64, spec);
        interleaved.copy_interleaved_ref(decoded);
        let channels = spec.channels.count().max(1);
        mono.clear();
        mono.extend(
            interleaved
                .samples()
                .chunks_exact(channels)
                .map(|frame| frame.iter().sum::<f32>() / channels as f32),
        );
        out.push(spec.rate, &mono)?;
    }
    Ok(())
}

/// The first audio track's length as its container declares it, without decoding: `None`
/// when the container does not say (a browser's WebM often does not). Lets a caller refuse
/// a recording over a length limit before spending minutes decoding it.
pub fn declared_duration_secs(source: Box<dyn MediaSource>) -> Result<Option<f64>, DecodeError> {
    let (_, track) = first_audio_track(source)?;
    let p = &track.codec_params;
    Ok(match (p.n_frames, p.time_base, p.sample_rate) {
        (Some(n), Some(tb), _) => {
            let t = tb.calc_time(n);
            Some(t.seconds as f64 + t.frac)
        }
        (Some(n), None, Some(rate)) if rate > 0 => Some(n as f64 / f64::from(rate)),
        _ => None,
    })
}

/// The container's demuxer and its first audio track.
fn first_audio_track(
    source: Box<dyn MediaSource>,
) -> Result<(Box<dyn FormatReader>, Track), DecodeError> {
    let mss = MediaSourceStream::new(source, MediaSourceStreamOptions::default());
    let format = symphonia::default::get_probe()
        .format(
            &Hint::new(),
            mss,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )?
        .format;
    let track = format
        .tracks()
        .iter()
        .find(|t| is_audio(&t.codec_params))
        .cloned()
        .ok_or(DecodeError::NoAudioTrack)?;
    Ok((format, track))
}
