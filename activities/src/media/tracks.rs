//! What a demuxer's codec parameters tell about one track, in the contract's terms.

use mediadocs_workflows::media::TrackInfo;
use symphonia::core::codecs::{self, CODEC_TYPE_AAC, CodecParameters, CodecType};

pub use mediadocs_audio::is_audio;

pub fn track_info(p: &CodecParameters) -> TrackInfo {
    let channels = p
        .channels
        .or_else(|| p.channel_layout.map(|l| l.into_channels()))
        .and_then(|c| u16::try_from(c.count()).ok())
        // The MP4 demuxer leaves AAC's channel count inside the AudioSpecificConfig.
        .or_else(|| match (p.codec, &p.extra_data) {
            (CODEC_TYPE_AAC, Some(asc)) => aac_config_channels(asc),
            _ => None,
        });
    TrackInfo {
        kind: if is_audio(p) { "audio" } else { "other" }.into(),
        codec: codec_name(p.codec).into(),
        sample_rate: p.sample_rate,
        channels,
    }
}

/// The registry names only codecs with a decoder built in; the demuxers know more.
fn codec_name(codec: CodecType) -> &'static str {
    if let Some(d) = symphonia::default::get_codecs().get_codec(codec) {
        return d.short_name;
    }
    match codec {
        codecs::CODEC_TYPE_OPUS => "opus",
        codecs::CODEC_TYPE_ALAC => "alac",
        codecs::CODEC_TYPE_MP1 => "mp1",
        codecs::CODEC_TYPE_MP2 => "mp2",
        codecs::CODEC_TYPE_WAVPACK => "wavpack",
        codecs::CODEC_TYPE_SPEEX => "speex",
        codecs::CODEC_TYPE_ADPCM_MS => "adpcm_ms",
        codecs::CODEC_TYPE_ADPCM_IMA_WAV => "adpcm_ima_wav",
        _ => "unknown",
    }
}

pub fn duration_ms(p: &CodecParameters) -> Option<i64> {
    let frames = p.n_frames?;
    let seconds = match (p.time_base, p.sample_rate) {
        (Some(tb), _) => {
            let t = tb.calc_time(frames);
            t.seconds as f64 + t.frac
        }
        (None, Some(rate)) if rate > 0 => frames as f64 / f64::from(rate),
        _ => return None,
    };
    Some((seconds * 1000.0).round() as i64)
}

/// ISO 14496-3 AudioSpecificConfig: object type (5 bits, or 5 + 6 when it reads 31),
/// frequency index (4 bits, plus a 24-bit rate when it reads 15), channel configuration
/// (4 bits). Configuration 0 defers to a program config element: unknown here.
fn aac_config_channels(asc: &[u8]) -> Option<u16> {
    let bits = |from: usize, len: usize| -> Option<u32> {
        (from..from + len).try_fold(0u32, |acc, i| {
            let byte = asc.get(i / 8)?;
            Some(acc << 1 | u32::from(byte >> (7 - i % 8) & 1))
        })
    };
    let mut at = if bits(0, 5)? == 31 { 11 } else { 5 };
    at += if bits(at, 4)? == 15 { 28 } else { 4 };
    match bits(at, 4)? {
        0 => None,
        7 => Some(8),
        n @ 1..=6 => Some(n as u16),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::aac_config_channels;

    #[test]
    fn reads_the_channel_configuration_of_an_audio_specific_config() {
        // AAC-LC, 44.1 kHz (index 4), mono: 00010 0100 0001 000 = 0x12 0x08.
        assert_eq!(aac_config_channels(&[0x12, 0x08]), Some(1));
        // AAC-LC, 48 kHz (index 3), stereo: 00010 0011 0010 000 = 0x11 0x90.
        assert_eq!(aac_config_channels(&[0x11, 0x90]), Some(2));
        // Escaped frequency: index 15 then 24 bits of rate, then 5.1 (6 channels).
        assert_eq!(
            aac_config_channels(&[0x17, 0x80, 0x00, 0x00, 0x30]),
            Some(6)
        );
        assert_eq!(aac_config_channels(&[0x12]), None);
    }
}
