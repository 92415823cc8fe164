//! Media made on the fly for tests: real files that a probe accepts and whose bytes differ
//! from test to test (the transcription simulator recognises media by their hash).

/// A 16 kHz mono 16-bit PCM WAV of `samples` samples: a square wave of `tone_hz` (0 for
/// silence).
pub fn wav(samples: u32, tone_hz: u32) -> Vec<u8> {
    let rate = 16_000u32;
    let data_len = samples * 2;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(&wav_header(data_len));
    let period = rate.checked_div(tone_hz).map_or(0, |p| p.max(2));
    out.extend((0..samples).flat_map(|i| {
        let level: i16 = match period {
            0 => 0,
            p if (i % p) < p / 2 => 8000,
            _ => -8000,
        };
        level.to_le_bytes()
    }));
    out
}

/// The 44-byte header of a 16 kHz mono 16-bit PCM WAV whose samples take `data_len` bytes.
pub fn wav_header(data_len: u32) -> [u8; 44] {
    let rate = 16_000u32;
    let mut out = [0u8; 44];
    let fields: [&[u8]; 12] = [
        b"RIFF",
        &(36 + data_len).to_le_bytes(),
        b"WAVEfmt ",
        &16u32.to_le_bytes(),
        &1u16.to_le_bytes(), // PCM
        &1u16.to_le_bytes(), // mono
        &rate.to_le_bytes(),
        &(rate * 2).to_le_bytes(),
        &2u16.to_le_bytes(),
        &16u16.to_le_bytes(),
        b"data",
        &data_len.to_le_bytes(),
    ];
    let mut at = 0;
    for f in fields {
        out[at..at + f.len()].copy_from_slice(f);
        at += f.len();
    }
    out
}

/// `seconds` of a tone whose pitch is derived from `tag`, so each tag gives other bytes.
pub fn tagged_wav(seconds: u32, tag: &str) -> Vec<u8> {
    let tone = 200
        + tag
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
            % 800;
    wav(seconds * 16_000, tone)
}
