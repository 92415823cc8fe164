//! Probing a stored object: which container, which tracks, how long.
//!
//! Only headers are read. Durations come from what the container declares; packets are
//! never counted, so the bytes fetched do not grow with the recording's length.

use std::{
    io::{self, Read, Seek, SeekFrom},
    panic::{self, AssertUnwindSafe},
    sync::atomic::Ordering,
};

use mediadocs_workflows::{
    FailureKind,
    media::{MediaInfo, TrackInfo},
};
use symphonia::core::{
    errors::Error as SymphoniaError,
    formats::FormatOptions,
    io::{MediaSourceStream, MediaSourceStreamOptions},
    meta::MetadataOptions,
    probe::Hint,
};
use tokio::runtime::Handle;

use super::{
    sniff,
    source::{FetchError, S3Source},
    tracks,
};

/// Why a probe failed. Only `Storage` is worth retrying: the rest is about the bytes.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("not a recording in a supported format: {0}")]
    Unsupported(String),
    #[error("the {container} file has no audio track ({} other track(s))", tracks.len())]
    NoAudioTrack {
        container: String,
        tracks: Vec<TrackInfo>,
    },
    #[error("the {container} file is damaged or cut short: {reason}")]
    Corrupt { container: String, reason: String },
    #[error("reading the recording from storage: {0:#}")]
    Storage(anyhow::Error),
}

impl ProbeError {
    /// The stable failure type the workflow's retry policy names.
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::Unsupported(_) => FailureKind::UnsupportedMedia,
            Self::NoAudioTrack { .. } => FailureKind::NoAudioTrack,
            Self::Corrupt { .. } => FailureKind::CorruptMedia,
            Self::Storage(_) => FailureKind::StorageError,
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.kind().retryable()
    }
}

/// Probes `s3://{bucket}/{key}` with ranged reads. Usable without Temporal (tests, benches).
pub async fn probe_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<MediaInfo, ProbeError> {
    let stored = mediadocs_store::objects::stored_size(s3, bucket, key)
        .await
        .map_err(ProbeError::Storage)?;
    let len = u64::try_from(stored).unwrap_or(0);
    let source = S3Source::new(
        s3.clone(),
        bucket.to_owned(),
        key.to_owned(),
        len,
        Handle::current(),
    );
    // symphonia is synchronous; its reads block on ranged GETs driven by this runtime.
    tokio::task::spawn_blocking(move || probe_source(source))
        .await
        .map_err(|e| ProbeError::Storage(anyhow::Error::new(e).context("probe interrupted")))?
}

fn probe_source(mut source: S3Source) -> Result<MediaInfo, ProbeError> {
    let fetched = source.fetched();
    let mut head = Vec::with_capacity(sniff::HEAD_LEN);
    (&mut source)
        .take(sniff::HEAD_LEN as u64)
        .read_to_end(&mut head)
        .and_then(|_| source.seek(SeekFrom::Start(0)))
        .map_err(|e| storage_or_corrupt("media", e))?;
    let container = sniff::container(&head).ok_or_else(|| {
        ProbeError::Unsupported("its first bytes match no known container's signature".into())
    })?;

    // symphonia 0.5 still has `expect`s and `unwrap`s on header fields (Matroska's element
    // reader, for one): a header that trips them is damaged, not a reason to retry.
    let (tracks, duration_ms) = panic::catch_unwind(AssertUnwindSafe(|| read_tracks(source)))
        .unwrap_or_else(|_| {
            Err(decode_error(
                "its header is malformed or cut short (the demuxer gave up on it)",
            ))
        })
        .map_err(|e| classify(container, e))?;
    if !tracks.iter().any(|t| t.kind == "audio") {
        return Err(ProbeError::NoAudioTrack {
            container: container.into(),
            tracks,
        });
    }
    Ok(MediaInfo {
        container: container.into(),
        duration_ms,
        tracks,
        bytes_read: fetched.load(Ordering::Relaxed),
    })
}

fn read_tracks(source: S3Source) -> Result<(Vec<TrackInfo>, Option<i64>), SymphoniaError> {
    let mss = MediaSourceStream::new(Box::new(source), MediaSourceStreamOptions::default());
    let probed = symphonia::default::get_probe().format(
        &Hint::new(),
        mss,
        &FormatOptions::default(),
        &MetadataOptions::default(),
    )?;
    let params = || probed.format.tracks().iter().map(|t| &t.codec_params);
    let duration_ms = params()
        .filter(|p| tracks::is_audio(p))
        .filter_map(tracks::duration_ms)
        .max();
    Ok((params().map(tracks::track_info).collect(), duration_ms))
}

fn decode_error(msg: &'static str) -> SymphoniaError {
    SymphoniaError::DecodeError(msg)
}

fn classify(container: &str, e: SymphoniaError) -> ProbeError {
    let corrupt = |reason: String| ProbeError::Corrupt {
        container: container.into(),
        reason,
    };
    match e {
        SymphoniaError::IoError(io) => storage_or_corrupt(container, io),
        // symphonia reports some structural gaps (an MP4 without its `moov`) as unsupported;
        // for a file whose signature matched, a missing part means damage.
        SymphoniaError::Unsupported(msg) if msg.contains("missing") => corrupt(msg.into()),
        SymphoniaError::Unsupported(msg) => {
            ProbeError::Unsupported(format!("a {container} file symphonia cannot read: {msg}"))
        }
        SymphoniaError::DecodeError(msg) | SymphoniaError::LimitError(msg) => corrupt(msg.into()),
        other => corrupt(other.to_string()),
    }
}

fn storage_or_corrupt(container: &str, e: io::Error) -> ProbeError {
    if e.get_ref().is_some_and(|inner| inner.is::<FetchError>()) {
        return ProbeError::Storage(e.into());
    }
    let reason = if e.kind() == io::ErrorKind::UnexpectedEof {
        "the file ends inside its header".to_owned()
    } else {
        e.to_string()
    };
    ProbeError::Corrupt {
        container: container.into(),
        reason,
    }
}
