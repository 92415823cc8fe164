//! A seekable byte source over an S3 object, read with ranged GETs through a small cache.
//!
//! symphonia's demuxers are synchronous and read headers in many small, scattered reads
//! (Matroska seeks to its Cues at the end, MP4 to a `moov` after the media data). Fetching
//! whole blocks and keeping a few of them turns those into a handful of requests, while
//! the memory held stays fixed whatever the object's size.

use std::{
    collections::VecDeque,
    io::{self, Read, Seek, SeekFrom},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::runtime::Handle;

type Block = Arc<[u8]>;

pub const BLOCK_SIZE: u64 = 64 * 1024;
const CACHED_BLOCKS: usize = 4;

/// Why a ranged read of the object failed: a storage problem, worth retrying.
#[derive(Debug, thiserror::Error)]
#[error("reading bytes {start}-{end} of s3://{bucket}/{key}: {reason}")]
pub struct FetchError {
    pub bucket: String,
    pub key: String,
    pub start: u64,
    pub end: u64,
    pub reason: String,
}

pub struct S3Source {
    s3: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    len: u64,
    pos: u64,
    /// Most recently used last.
    blocks: VecDeque<(u64, Block)>,
    fetched: Arc<AtomicU64>,
    runtime: Handle,
}

impl S3Source {
    /// `runtime` drives the GETs; reads must then happen off its worker threads (in
    /// `spawn_blocking`), since `Handle::block_on` panics inside an async context.
    pub fn new(
        s3: aws_sdk_s3::Client,
        bucket: String,
        key: String,
        len: u64,
        runtime: Handle,
    ) -> Self {
        Self {
            s3,
            bucket,
            key,
            len,
            pos: 0,
            blocks: VecDeque::with_capacity(CACHED_BLOCKS),
            fetched: Arc::default(),
            runtime,
        }
    }

    /// Bytes fetched from storage so far; shared, so it can be read after the source has
    /// been handed to a demuxer.
    pub fn fetched(&self) -> Arc<AtomicU64> {
        self.fetched.clone()
    }

    fn block(&mut self, index: u64) -> io::Result<Block> {
        if let Some(at) = self.blocks.iter().position(|(i, _)| *i == index) {
            let entry = self.blocks.remove(at).expect("position is in range");
            let data = entry.1.clone();
            self.blocks.push_back(entry);
            return Ok(data);
        }
        let data = self.fetch(index)?;
        if self.blocks.len() == CACHED_BLOCKS {
            self.blocks.pop_front();
        }
        self.blocks.push_back((index, data.clone()));
        Ok(data)
    }

    fn fetch(&self, index: u64) -> io::Result<Block> {
        let start = index * BLOCK_SIZE;
        let end = (start + BLOCK_SIZE).min(self.len) - 1;
        let failed = |reason: String| {
            io::Error::other(FetchError {
                bucket: self.bucket.clone(),
                key: self.key.clone(),
                start,
                end,
                reason,
            })
        };
        let request = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .range(format!("bytes={start}-{end}"));
        let data = self.runtime.block_on(async {
            let response = request
                .send()
                .await
                .map_err(|e| failed(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
            let body = response
                .body
                .collect()
                .await
                .map_err(|e| failed(e.to_string()))?;
            Ok::<_, io::Error>(Block::from(body.to_vec()))
        })?;
        self.fetched.fetch_add(data.len() as u64, Ordering::Relaxed);
        // A short block would silently shift every later offset; treat it as a storage fault.
        if data.len() as u64 != end - start + 1 {
            return Err(failed(format!("got {} bytes", data.len())));
        }
        Ok(data)
    }
}

impl Read for S3Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let block = self.block(self.pos / BLOCK_SIZE)?;
        let offset = (self.pos % BLOCK_SIZE) as usize;
        let n = buf.len().min(block.len() - offset);
        buf[..n].copy_from_slice(&block[offset..offset + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for S3Source {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

impl symphonia::core::io::MediaSource for S3Source {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}
