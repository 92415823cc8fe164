//! Audio as it arrives (an upload, or an `audio_url` to fetch) spooled to a temporary file
//! under a byte limit, then decoded to 16 kHz mono under a length limit. Nothing is held in
//! memory at its encoded size, and a file over a limit is refused before it is decoded
//! whenever its container declares its length.

use std::{fs::File, io::Write, time::Duration};

use futures::StreamExt;
use mediadocs_audio::{DecodeError, TARGET_RATE, declared_duration_secs, decode_mono_16k_into};
use tempfile::NamedTempFile;

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("the audio is larger than this server's limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the audio is {secs:.0} s long, over this server's limit of {limit} s")]
    TooLong { secs: f64, limit: u64 },
    #[error("the file is empty")]
    Empty,
    #[error("could not decode the audio: {0}")]
    Undecodable(String),
    #[error("fetching the audio: {0}")]
    Fetch(String),
    #[error("spooling the audio: {0}")]
    Io(#[from] std::io::Error),
}

impl AudioError {
    /// Whether the fault is the audio's (a 4xx), not ours or the network's.
    pub fn is_input(&self) -> bool {
        !matches!(self, Self::Io(_) | Self::Fetch(_))
    }
}

/// Bytes pieces to a temporary file, refusing past `limit`.
pub struct Spool {
    file: NamedTempFile,
    written: u64,
    limit: u64,
}

impl Spool {
    pub fn new(limit: u64) -> Result<Self, AudioError> {
        Ok(Self {
            file: NamedTempFile::new()?,
            written: 0,
            limit,
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), AudioError> {
        self.written += bytes.len() as u64;
        if self.written > self.limit {
            return Err(AudioError::TooLarge { limit: self.limit });
        }
        self.file.write_all(bytes)?;
        Ok(())
    }

    pub fn finish(mut self) -> Result<NamedTempFile, AudioError> {
        if self.written == 0 {
            return Err(AudioError::Empty);
        }
        self.file.flush()?;
        Ok(self.file)
    }
}

/// GETs `url` into a spool. Redirects are not followed by the client this is given.
pub async fn fetch(
    http: &reqwest::Client,
    url: &str,
    limit: u64,
    timeout: Duration,
) -> Result<NamedTempFile, AudioError> {
    let fetch_err = |e: reqwest::Error| AudioError::Fetch(e.to_string());
    let response = http
        .get(url)
        .timeout(timeout)
        .send()
        .await
        .map_err(fetch_err)?;
    let status = response.status();
    if !status.is_success() {
        return Err(AudioError::Fetch(format!(
            "GET audio_url answered {status}"
        )));
    }
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(AudioError::TooLarge { limit });
    }
    let mut spool = Spool::new(limit)?;
    let mut body = response.bytes_stream();
    while let Some(piece) = body.next().await {
        spool.write(&piece.map_err(fetch_err)?)?;
    }
    spool.finish()
}

/// Decodes the spooled file (blocking: run it off the async threads).
pub fn decode(file: &NamedTempFile, max_secs: u64) -> Result<Vec<f32>, AudioError> {
    let undecodable = |e: DecodeError| AudioError::Undecodable(e.to_string());
    if let Some(secs) =
        declared_duration_secs(Box::new(File::open(file.path())?)).map_err(undecodable)?
        && secs > max_secs as f64
    {
        return Err(AudioError::TooLong {
            secs,
            limit: max_secs,
        });
    }
    let max_samples = max_secs as usize * TARGET_RATE as usize;
    let mut pcm = Vec::new();
    let mut too_long = false;
    let decoded = decode_mono_16k_into(Box::new(File::open(file.path())?), &mut |samples| {
        if pcm.len() + samples.len() > max_samples {
            too_long = true;
            return Err(DecodeError::Unsupported("over the length limit".into()));
        }
        pcm.extend_from_slice(samples);
        Ok(())
    });
    match decoded {
        Err(_) if too_long => Err(AudioError::TooLong {
            secs: max_secs as f64,
            limit: max_secs,
        }),
        Err(e) => Err(undecodable(e)),
        Ok(_) if pcm.is_empty() => Err(AudioError::Undecodable(
            "the audio track holds no samples".into(),
        )),
        Ok(_) => Ok(pcm),
    }
}
