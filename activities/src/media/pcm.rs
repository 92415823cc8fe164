//! Decoded audio kept on disk as 16 kHz mono 16-bit PCM: a three-hour recording is 345 MB
//! of samples, which a worker should not hold in memory (at f32, and before resampling from
//! 48 kHz, it would be several times that). Chunks are read back one at a time.

use std::{
    fs::File,
    io::{self, BufWriter, Write},
    ops::Range,
    os::unix::fs::FileExt,
};

/// Samples being written; [`PcmWriter::finish`] makes them readable.
pub struct PcmWriter {
    out: BufWriter<File>,
    samples: u64,
}

/// Samples on disk, readable from several threads at once.
pub struct PcmFile {
    file: File,
    samples: u64,
}

impl PcmWriter {
    /// An anonymous temporary file: the kernel removes it when the last handle closes, even
    /// if the worker dies.
    pub fn create() -> io::Result<Self> {
        Ok(Self {
            out: BufWriter::with_capacity(1 << 20, tempfile::tempfile()?),
            samples: 0,
        })
    }

    pub fn write(&mut self, samples: &[f32]) -> io::Result<()> {
        for s in samples {
            self.out.write_all(&to_i16(*s).to_le_bytes())?;
        }
        self.samples += samples.len() as u64;
        Ok(())
    }

    pub fn finish(self) -> io::Result<PcmFile> {
        let file = self
            .out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        Ok(PcmFile {
            file,
            samples: self.samples,
        })
    }
}

impl PcmFile {
    pub fn len(&self) -> usize {
        self.samples as usize
    }

    pub fn is_empty(&self) -> bool {
        self.samples == 0
    }

    /// Samples `range`, as stored.
    pub fn read_i16(&self, range: Range<usize>) -> io::Result<Vec<i16>> {
        let mut bytes = vec![0u8; range.len() * 2];
        self.file
            .read_exact_at(&mut bytes, range.start as u64 * 2)?;
        Ok(bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect())
    }

    /// Samples `range`, as f32 in [-1, 1].
    pub fn read(&self, range: Range<usize>) -> io::Result<Vec<f32>> {
        Ok(self
            .read_i16(range)?
            .into_iter()
            .map(|s| f32::from(s) / f32::from(i16::MAX))
            .collect())
    }
}

pub fn to_i16(sample: f32) -> i16 {
    (sample.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_come_back_as_written() {
        let samples: Vec<f32> = (0..10_000)
            .map(|i| ((i as f32) * 0.01).sin() * 0.8)
            .collect();
        let mut w = PcmWriter::create().unwrap();
        for piece in samples.chunks(333) {
            w.write(piece).unwrap();
        }
        let pcm = w.finish().unwrap();
        assert_eq!(pcm.len(), samples.len());
        let back = pcm.read(1_000..2_500).unwrap();
        assert_eq!(back.len(), 1_500);
        for (a, b) in back.iter().zip(&samples[1_000..2_500]) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }
}
