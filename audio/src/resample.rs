//! Sample-rate conversion to what speech recognisers want (16 kHz), by windowed sinc.
//!
//! Plain linear interpolation would fold everything above 8 kHz back into the speech band
//! when going down from 48 kHz; a band-limited kernel removes it first. Input and output
//! rates are integers, so the output's positions between input samples repeat with period
//! `to / gcd(from, to)`: the kernel for each such phase is computed once.

use std::f64::consts::PI;

/// Half-width of the kernel, in zero crossings of its sinc: about 90 dB of stop band with a
/// Blackman window, far below what 16-bit speech needs.
const ZERO_CROSSINGS: f64 = 16.0;
/// Cut-off as a fraction of the lower Nyquist frequency: the transition band sits below it,
/// so nothing between 7.5 and 8 kHz aliases when going to 16 kHz.
const ROLL_OFF: f64 = 0.94;

/// A resampler fed piece by piece, so that hours of audio never sit in memory at the input
/// rate: it keeps only the input its kernel still reaches.
pub struct Resampler {
    step: u64,
    phases: u64,
    half: i64,
    kernels: Vec<Vec<f32>>,
    /// Input not yet out of every remaining output's reach; `buf[0]` is input sample
    /// `buf_start`.
    buf: Vec<f32>,
    buf_start: u64,
    /// Input samples pushed so far.
    seen: u64,
    /// The next output sample's index.
    next: u64,
    /// `from == to`: samples pass through.
    identity: bool,
}

impl Resampler {
    pub fn new(from: u32, to: u32) -> Self {
        let g = gcd(from, to).max(1);
        let (step, phases) = (u64::from(from / g), u64::from(to / g));
        let cutoff = ROLL_OFF * (f64::from(to) / f64::from(from)).min(1.0);
        let half = (ZERO_CROSSINGS / cutoff).ceil() as i64;
        let identity = from == to;
        let kernels = if identity {
            Vec::new()
        } else {
            (0..phases)
                .map(|p| kernel(p as f64 / phases as f64, half, cutoff))
                .collect()
        };
        Self {
            step,
            phases,
            half,
            kernels,
            buf: Vec::new(),
            buf_start: 0,
            seen: 0,
            next: 0,
            identity,
        }
    }

    /// Appends to `out` every output sample whose kernel the input so far covers.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) {
        if self.identity {
            out.extend_from_slice(input);
            return;
        }
        self.buf.extend_from_slice(input);
        self.seen += input.len() as u64;
        // Output n needs input up to base(n) + half.
        while (self.base(self.next) + self.half) < self.seen as i64 {
            out.push(self.output(self.next));
            self.next += 1;
        }
        self.trim();
    }

    /// Appends the remaining output, as if the input were followed by silence.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        if self.identity {
            return;
        }
        let total = (self.seen * self.phases).div_ceil(self.step);
        while self.next < total {
            out.push(self.output(self.next));
            self.next += 1;
        }
        self.buf.clear();
    }

    fn base(&self, n: u64) -> i64 {
        (n * self.step / self.phases) as i64
    }

    fn output(&self, n: u64) -> f32 {
        let (base, phase) = (self.base(n), (n * self.step % self.phases) as usize);
        (-self.half + 1..=self.half)
            .zip(&self.kernels[phase])
            .filter_map(|(k, w)| {
                let at = u64::try_from(base + k).ok()?.checked_sub(self.buf_start)?;
                Some(self.buf.get(usize::try_from(at).ok()?)? * w)
            })
            .sum()
    }

    /// Drops input that no remaining output reaches back to.
    fn trim(&mut self) {
        let keep_from = (self.base(self.next) - self.half + 1).max(0) as u64;
        if keep_from > self.buf_start {
            let drop = ((keep_from - self.buf_start) as usize).min(self.buf.len());
            self.buf.drain(..drop);
            self.buf_start += drop as u64;
        }
    }
}

/// Weights for input samples `base - half + 1 ..= base + half` when the output sits `frac`
/// of the way from `base` to `base + 1`.
fn kernel(frac: f64, half: i64, cutoff: f64) -> Vec<f32> {
    (-half + 1..=half)
        .map(|k| {
            let x = k as f64 - frac;
            let u = x / half as f64;
            let window = 0.42 + 0.5 * (PI * u).cos() + 0.08 * (2.0 * PI * u).cos();
            (cutoff * sinc(cutoff * x) * window) as f32
        })
        .collect()
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        (PI * x).sin() / (PI * x)
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::Resampler;

    /// A whole signal at once.
    fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
        let mut out = Vec::new();
        let mut r = Resampler::new(from, to);
        r.push(input, &mut out);
        r.finish(&mut out);
        out
    }

    #[test]
    fn fed_in_pieces_it_gives_what_it_gives_for_the_whole() {
        let input = tone(440.0, 48_000, 0.5);
        for (from, to) in [
            (48_000, 16_000),
            (44_100, 16_000),
            (8_000, 16_000),
            (16_000, 16_000),
        ] {
            let whole = resample(&input, from, to);
            let mut r = Resampler::new(from, to);
            let mut pieces = Vec::new();
            for piece in input.chunks(997) {
                r.push(piece, &mut pieces);
            }
            // Only the kernel's reach is kept between pushes.
            assert!(r.buf.len() < 2_000, "{}", r.buf.len());
            r.finish(&mut pieces);
            assert_eq!(whole.len(), pieces.len(), "{from} -> {to}");
            assert!(
                whole.iter().zip(&pieces).all(|(a, b)| (a - b).abs() < 1e-6),
                "{from} -> {to}"
            );
        }
    }

    fn tone(hz: f64, rate: u32, seconds: f64) -> Vec<f32> {
        let n = (f64::from(rate) * seconds) as usize;
        (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(rate)).sin() as f32)
            .collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn keeps_speech_band_tones_and_removes_what_would_alias() {
        for from in [48_000, 44_100] {
            let kept = resample(&tone(1_000.0, from, 1.0), from, 16_000);
            assert_eq!(kept.len(), 16_000);
            // Away from the edges, where the kernel runs off the signal.
            let middle = &kept[1_000..15_000];
            assert!(
                (rms(middle) - std::f32::consts::FRAC_1_SQRT_2).abs() < 0.01,
                "{from}: {}",
                rms(middle)
            );
            // 12 kHz would land at 4 kHz if it were not filtered out.
            let removed = resample(&tone(12_000.0, from, 1.0), from, 16_000);
            assert!(
                rms(&removed[1_000..15_000]) < 0.001,
                "{from}: {}",
                rms(&removed)
            );
        }
    }
}
