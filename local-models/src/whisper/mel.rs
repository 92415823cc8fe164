//! Log-mel spectrogram exactly as openai-whisper's `log_mel_spectrogram` computes it.
//!
//! candle's `whisper::audio::pcm_to_mel` (ported from whisper.cpp) differs from the reference
//! in two ways the model notices: it does not centre frames (torch.stft's reflect padding of
//! n_fft/2), and it folds the mirrored FFT half onto bins 1..199, doubling their power (+0.075
//! after scaling). So this module reimplements the reference; the DFT is a matrix product,
//! which candle's gemm does faster on 2 cores than a scalar 400-point FFT.

use std::path::Path;

use candle_core::{Device, Tensor};

pub const SAMPLE_RATE: usize = 16_000;
pub const N_FFT: usize = 400;
pub const HOP_LENGTH: usize = 160;
/// Spectrum bins of a real 400-point FFT (0..=200).
pub const N_BINS: usize = N_FFT / 2 + 1;
pub const N_SAMPLES: usize = 30 * SAMPLE_RATE;
pub const N_FRAMES: usize = N_SAMPLES / HOP_LENGTH;
/// Frames per matrix product: bounds memory on long recordings (≈ 5 MB per chunk).
const CHUNK_FRAMES: usize = 3000;

/// openai-whisper's `mel_filters.npz` row for one mel count: [n_mels, 201] Slaney filters.
#[derive(Debug, Clone)]
pub struct MelFilters {
    pub n_mels: usize,
    /// Transposed to [201, n_mels], the right operand of the product.
    bins_by_mel: Tensor,
}

impl MelFilters {
    pub fn load(path: &Path, n_mels: usize) -> Result<Self, String> {
        let key = format!("mel_{n_mels}");
        let zip = std::fs::read(path).map_err(|e| e.to_string())?;
        let a = super::npz::read_array(&zip, &key)?;
        let t = Tensor::from_vec(a.data, a.shape, &Device::Cpu).map_err(|e| e.to_string())?;
        Self::from_tensor(t).map_err(|e| format!("{key}: {e}"))
    }

    pub fn from_tensor(t: Tensor) -> Result<Self, String> {
        let (n_mels, bins) = t.dims2().map_err(|e| e.to_string())?;
        if bins != N_BINS {
            return Err(format!("has {bins} frequency bins, expected {N_BINS}"));
        }
        let bins_by_mel = t
            .to_dtype(candle_core::DType::F32)
            .and_then(|t| t.t())
            .and_then(|t| t.contiguous())
            .map_err(|e| e.to_string())?;
        Ok(Self {
            n_mels,
            bins_by_mel,
        })
    }

    #[cfg(test)]
    pub fn weight(&self, mel: usize, bin: usize) -> f32 {
        use candle_core::IndexOp;
        self.bins_by_mel
            .i((bin, mel))
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }
}

/// A normalised log-mel spectrogram, row-major [n_mels, n_frames].
#[derive(Debug, Clone)]
pub struct LogMel {
    pub n_mels: usize,
    pub n_frames: usize,
    pub data: Vec<f32>,
}

impl LogMel {
    /// Frames `start..start + N_FRAMES` as the encoder's [1, n_mels, 3000] input; frames past
    /// the end are 0, as openai-whisper's `pad_or_trim` pads.
    pub fn window(&self, start: usize) -> candle_core::Result<Tensor> {
        let mut w = vec![0f32; self.n_mels * N_FRAMES];
        let end = (start + N_FRAMES).min(self.n_frames);
        if start < end {
            for m in 0..self.n_mels {
                let row = &self.data[m * self.n_frames..(m + 1) * self.n_frames];
                w[m * N_FRAMES..m * N_FRAMES + (end - start)].copy_from_slice(&row[start..end]);
            }
        }
        Tensor::from_vec(w, (1, self.n_mels, N_FRAMES), &Device::Cpu)
    }
}

/// openai-whisper's `log_mel_spectrogram(audio, padding=pad)`: `pad` zero samples are appended
/// first, so the clamp at max − 8 sees the same signal the reference sees.
pub fn log_mel_spectrogram(
    pcm: &[f32],
    filters: &MelFilters,
    pad: usize,
) -> candle_core::Result<LogMel> {
    let mut samples = Vec::with_capacity(pcm.len() + pad);
    samples.extend_from_slice(pcm);
    samples.resize(pcm.len() + pad, 0.0);
    let mut data = log10_mel(&samples, filters)?;
    normalise(&mut data);
    let n_frames = samples.len() / HOP_LENGTH;
    Ok(LogMel {
        n_mels: filters.n_mels,
        n_frames,
        data,
    })
}

/// log10 of the mel energies, [n_mels, n_frames], before the dynamic-range clamp.
pub fn log10_mel(samples: &[f32], filters: &MelFilters) -> candle_core::Result<Vec<f32>> {
    // torch.stft(center=True) yields 1 + len/hop frames; whisper drops the last one.
    let n_frames = samples.len() / HOP_LENGTH;
    let padded = reflect_pad(samples, N_FFT / 2);
    let window = hann_periodic();
    let basis = dft_basis()?;
    let n_mels = filters.n_mels;
    let mut out = vec![0f32; n_mels * n_frames];
    for first in (0..n_frames).step_by(CHUNK_FRAMES) {
        let count = CHUNK_FRAMES.min(n_frames - first);
        let mut frames = Vec::with_capacity(count * N_FFT);
        for f in first..first + count {
            let s = &padded[f * HOP_LENGTH..f * HOP_LENGTH + N_FFT];
            frames.extend(s.iter().zip(&window).map(|(x, w)| x * w));
        }
        let frames = Tensor::from_vec(frames, (count, N_FFT), &Device::Cpu)?;
        let spec = frames.matmul(&basis)?;
        let re = spec.narrow(1, 0, N_BINS)?;
        let im = spec.narrow(1, N_BINS, N_BINS)?;
        let power = (re.sqr()? + im.sqr()?)?;
        let mel = power.matmul(&filters.bins_by_mel)?.to_vec2::<f32>()?;
        for (i, row) in mel.iter().enumerate() {
            for (m, &e) in row.iter().enumerate() {
                out[m * n_frames + first + i] = e.max(1e-10).log10();
            }
        }
    }
    Ok(out)
}

/// Whisper's dynamic range: clamp to (max − 8), then map with (x + 4) / 4.
pub fn normalise(log_mel: &mut [f32]) {
    let max = log_mel.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for v in log_mel.iter_mut() {
        *v = (v.max(max - 8.0) + 4.0) / 4.0;
    }
}

/// numpy/torch "reflect" padding (the edge sample is not repeated).
fn reflect_pad(x: &[f32], pad: usize) -> Vec<f32> {
    let n = x.len();
    let at = |i: isize| -> f32 {
        let n = n as isize;
        if n < 2 {
            return x.first().copied().unwrap_or(0.0);
        }
        let period = 2 * (n - 1);
        let mut j = i.rem_euclid(period);
        if j >= n {
            j = period - j;
        }
        x[j as usize]
    };
    (0..n + 2 * pad)
        .map(|i| at(i as isize - pad as isize))
        .collect()
}

/// torch.hann_window(400), which is periodic.
fn hann_periodic() -> Vec<f32> {
    (0..N_FFT)
        .map(|i| {
            let phase = 2.0 * std::f64::consts::PI * i as f64 / N_FFT as f64;
            (0.5 * (1.0 - phase.cos())) as f32
        })
        .collect()
}

/// [400, 402]: cos columns then sin columns for bins 0..=200 (the sign of sin is irrelevant to power).
fn dft_basis() -> candle_core::Result<Tensor> {
    let mut b = vec![0f32; N_FFT * 2 * N_BINS];
    for n in 0..N_FFT {
        for k in 0..N_BINS {
            // Reduce n·k mod N first, so the angle stays exact in f64.
            let phase = 2.0 * std::f64::consts::PI * ((n * k) % N_FFT) as f64 / N_FFT as f64;
            b[n * 2 * N_BINS + k] = phase.cos() as f32;
            b[n * 2 * N_BINS + N_BINS + k] = phase.sin() as f32;
        }
    }
    Tensor::from_vec(b, (N_FFT, 2 * N_BINS), &Device::Cpu)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whisper::testutil::tiny_en_dir;

    fn filters() -> MelFilters {
        MelFilters::load(&tiny_en_dir().join("mel_filters.npz"), 80).unwrap()
    }

    /// Slaney mel scale (librosa's default, which built the filters), written from its definition.
    fn hz_to_mel(f: f64) -> f64 {
        let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
        let logstep = 6.4f64.ln() / 27.0;
        if f < min_log_hz {
            f / f_sp
        } else {
            min_log_hz / f_sp + (f / min_log_hz).ln() / logstep
        }
    }

    fn mel_to_hz(m: f64) -> f64 {
        let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
        let min_log_mel = min_log_hz / f_sp;
        let logstep = 6.4f64.ln() / 27.0;
        if m < min_log_mel {
            m * f_sp
        } else {
            min_log_hz * ((m - min_log_mel) * logstep).exp()
        }
    }

    /// Centre frequency of mel filter `k` of 80 spanning 0..8 kHz.
    fn centre_hz(k: usize) -> f64 {
        let top = hz_to_mel(8000.0);
        mel_to_hz(top * (k + 1) as f64 / 81.0)
    }

    #[test]
    fn silence_is_the_floor_everywhere() {
        // All energies clamp to 1e-10: log10 = −10, which is also the max, so (−10 + 4) / 4.
        let mel = log_mel_spectrogram(&[0.0; 1600], &filters(), 0).unwrap();
        assert_eq!((mel.n_mels, mel.n_frames), (80, 10));
        assert!(mel.data.iter().all(|&v| v == -1.5), "{:?}", &mel.data[..4]);
    }

    #[test]
    fn frame_count_matches_torch_stft_minus_the_last_frame() {
        let mel = log_mel_spectrogram(&[0.1; 16_000], &filters(), N_SAMPLES).unwrap();
        assert_eq!(mel.n_frames, 100 + N_FRAMES);
    }

    #[test]
    fn normalise_clamps_at_max_minus_8_and_scales() {
        let mut v = [-20.0, -3.0, 0.0, 1.0];
        normalise(&mut v);
        assert_eq!(v, [-0.75, 0.25, 1.0, 1.25]);
    }

    #[test]
    fn a_constant_signal_gives_the_hand_computed_energies() {
        // For x = c, the periodic Hann window's DFT is c·[200, −100, 0, …, 0, −100]: power
        // (200c)² in bin 0, (100c)² in bin 1, nothing above. Frames in the middle see only c.
        let c = 0.5f32;
        let f = filters();
        let log = log10_mel(&vec![c; 16_000], &f).unwrap();
        let n_frames = 100;
        for m in 0..3 {
            let e = f.weight(m, 0) as f64 * (200.0 * c as f64).powi(2)
                + f.weight(m, 1) as f64 * (100.0 * c as f64).powi(2);
            let got = log[m * n_frames + 50] as f64;
            assert!(
                (got - e.max(1e-10).log10()).abs() < 1e-4,
                "mel {m}: {got} vs {e}"
            );
        }
        // Bins ≥ 2 carry only rounding noise, far below the clamp.
        assert!(log[40 * n_frames + 50] < log[0] - 8.0);
    }

    #[test]
    fn a_sine_peaks_in_the_filter_centred_on_its_frequency() {
        let f = filters();
        for k in [12, 20, 45, 60] {
            let hz = centre_hz(k);
            let pcm: Vec<f32> = (0..16_000)
                .map(|i| (2.0 * std::f64::consts::PI * hz * i as f64 / 16_000.0).sin() as f32 * 0.5)
                .collect();
            let mel = log_mel_spectrogram(&pcm, &f, 0).unwrap();
            let frame = 50;
            let col: Vec<f32> = (0..80)
                .map(|m| mel.data[m * mel.n_frames + frame])
                .collect();
            let peak = (0..80).max_by(|&a, &b| col[a].total_cmp(&col[b])).unwrap();
            assert_eq!(peak, k, "{hz:.0} Hz");
            // The clamp at max − 8 in log10 units is a range of exactly 2 after (x + 4) / 4.
            let hi = mel.data.iter().copied().fold(f32::MIN, f32::max);
            let lo = mel.data.iter().copied().fold(f32::MAX, f32::min);
            assert!((hi - lo - 2.0).abs() < 1e-5, "range {lo}..{hi}");
        }
    }

    #[test]
    fn reflect_pad_matches_numpy() {
        assert_eq!(
            reflect_pad(&[1.0, 2.0, 3.0, 4.0], 2),
            [3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]
        );
    }

    #[test]
    fn window_pads_with_zeros_past_the_end() {
        let mel = LogMel {
            n_mels: 2,
            n_frames: 3,
            data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        };
        let w = mel
            .window(1)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(&w[0][..3], &[2.0, 3.0, 0.0]);
        assert_eq!(&w[1][..3], &[5.0, 6.0, 0.0]);
        assert_eq!(w[1].len(), N_FRAMES);
    }
}
