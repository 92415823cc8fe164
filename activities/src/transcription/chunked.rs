//! The synchronous provider's path (Whisper): decode the recording to 16 kHz mono, cut it
//! into chunks within the provider's limits, transcribe them a few at a time, and stitch the
//! segments back onto the recording's clock.
//!
//! Each finished chunk is stored (`transcription_chunks`) before the next heartbeat names
//! it done, so a retry after a worker crash sends only the chunks that were not finished.
//! The chunk plan travels in the heartbeat details: the retry cuts where the first attempt
//! did, even if the planner changed in between.

use std::{
    collections::BTreeSet,
    ops::Range,
    sync::{Arc, Mutex},
};

use anyhow::Context;
use futures::{StreamExt, TryStreamExt, stream};
use mediadocs_providers::transcription::{
    Segment, Transcript, TranscriptionError, whisper::WhisperClient,
};
use mediadocs_store::tenancy;
use mediadocs_workflows::{FailureKind, transcription::Collected};
use serde::{Deserialize, Serialize};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use super::{Transcription, provider_failure, store_transcript, stored_summary};
use crate::{
    events,
    failure::fail,
    heartbeat::while_heartbeating,
    media::{
        chunking,
        pcm::{PcmFile, PcmWriter},
    },
};
use mediadocs_audio::{DecodeError, decode_mono_16k_into};

pub use mediadocs_settings::transcription::ChunkedTranscriptionSettings;

/// The job's status and the audio it transcribes.
#[derive(sqlx::FromRow)]
struct ChunkedJob {
    status: String,
    s3_key: String,
}

/// What a heartbeat reports, and what a retried attempt resumes from.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChunkProgress {
    /// Decoded samples; a plan is reused only for audio of the same length.
    pub samples: u64,
    /// Sample ranges, as `[start, end)`.
    pub chunks: Vec<(u64, u64)>,
    pub done: BTreeSet<u32>,
}

/// One chunk of audio on its way to the provider.
struct Chunk {
    index: u32,
    range: Range<usize>,
}

/// Whose chunks these are, and how many there are in all.
#[derive(Clone, Copy)]
struct Job {
    org: Uuid,
    recording: Uuid,
    id: Uuid,
    chunks: u32,
}

impl Transcription {
    pub(super) async fn transcribe_in_chunks(
        &self,
        ctx: &ActivityContext,
        org: Uuid,
        recording: Uuid,
        job: Uuid,
    ) -> Result<Collected, ActivityError> {
        let whisper = self.whisper.clone().ok_or_else(|| {
            fail(
                FailureKind::TranscriptionUnsupported,
                anyhow::anyhow!("{} is not a synchronous provider", self.settings.provider),
            )
        })?;
        let mut tx = tenancy::begin(&self.pool, Some(org), None).await?;
        let row: Option<ChunkedJob> = sqlx::query_as(
            "SELECT j.status, r.s3_key FROM transcription_jobs j JOIN recordings r ON r.id = j.recording_id
             WHERE j.id = $1 AND j.recording_id = $2",
        )
        .bind(job)
        .bind(recording)
        .fetch_optional(&mut *tx)
        .await?;
        let ChunkedJob {
            status,
            s3_key: key,
        } = row.ok_or_else(|| {
            fail(
                FailureKind::RecordingGone,
                anyhow::anyhow!("job {job} of recording {recording} is gone"),
            )
        })?;
        if status == "completed" {
            return Ok(stored_summary(&mut tx, recording).await?);
        }
        let stored: Vec<(i32, i64, i64)> = sqlx::query_as(
            "SELECT chunk_index, start_ms, end_ms FROM transcription_chunks WHERE job_id = $1",
        )
        .bind(job)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;

        let previous: Option<ChunkProgress> = ctx.heartbeat_details().deserialize().ok().flatten();
        let progress = Arc::new(Mutex::new(previous.clone().unwrap_or_default()));
        let beat = progress.clone();
        let details = move || beat.lock().expect("progress lock").clone();

        let audio = Arc::new(while_heartbeating(ctx, &details, self.decode(&key)).await?);
        let plan = match previous {
            Some(p) if p.samples == audio.len() as u64 && !p.chunks.is_empty() => p
                .chunks
                .iter()
                .map(|&(s, e)| s as usize..e as usize)
                .collect(),
            _ => {
                let (audio, limits) = (audio.clone(), self.chunking.limits);
                tokio::task::spawn_blocking(move || {
                    chunking::plan(audio.len(), limits, |r| audio.read(r))
                })
                .await
                .context("planning the chunks")?
                .context("reading the decoded audio")?
            }
        };
        // A stored chunk counts only if it is the plan's chunk of that index; any other (cut
        // by an older planner, without heartbeat details to say so) would corrupt the stitch.
        let (kept, stale): (Vec<_>, Vec<_>) = stored.into_iter().partition(|&(i, start, end)| {
            plan.get(i as usize).is_some_and(|r| {
                (chunking::sample_ms(r.start), chunking::sample_ms(r.end)) == (start, end)
            })
        });
        if !stale.is_empty() {
            let stale: Vec<i32> = stale.iter().map(|c| c.0).collect();
            let mut tx = tenancy::begin(&self.pool, Some(org), None).await?;
            sqlx::query(
                "DELETE FROM transcription_chunks WHERE job_id = $1 AND chunk_index = ANY($2)",
            )
            .bind(job)
            .bind(&stale)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        let done: BTreeSet<u32> = kept.iter().map(|c| c.0 as u32).collect();
        let todo: Vec<Chunk> = plan
            .iter()
            .enumerate()
            .map(|(i, range)| Chunk {
                index: i as u32,
                range: range.clone(),
            })
            .filter(|c| !done.contains(&c.index))
            .collect();
        *progress.lock().expect("progress lock") = ChunkProgress {
            samples: audio.len() as u64,
            chunks: plan
                .iter()
                .map(|r| (r.start as u64, r.end as u64))
                .collect(),
            done,
        };
        tracing::info!(
            %recording, chunks = plan.len(), resumed = plan.len() - todo.len(),
            "transcribing in chunks"
        );

        let target = Job {
            org,
            recording,
            id: job,
            chunks: plan.len() as u32,
        };
        let send_all = stream::iter(todo)
            .map(|chunk| self.send_chunk(&whisper, target, &audio, chunk))
            .buffer_unordered(self.chunking.concurrency.max(1))
            .try_for_each(|index| {
                progress.lock().expect("progress lock").done.insert(index);
                async { Ok(()) }
            });
        while_heartbeating(ctx, &details, send_all).await?;
        // Every chunk's segments are stored; make them the transcript, once.
        let _ = ctx.record_heartbeat(details()).await;
        self.stitch(org, recording, job, audio.len()).await
    }

    /// Downloads the object to a temporary file (decoding reads it front to back, which
    /// ranged reads would turn into thousands of requests) and decodes it off the runtime,
    /// into a temporary file of 16 kHz PCM.
    async fn decode(&self, key: &str) -> Result<PcmFile, ActivityError> {
        let file = tempfile::NamedTempFile::new().context("a temporary file for the audio")?;
        let mut out =
            tokio::fs::File::from_std(file.as_file().try_clone().context("the temporary file")?);
        let object = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "GET s3://{}/{key}: {}",
                    self.bucket,
                    aws_sdk_s3::error::DisplayErrorContext(e)
                )
            })?;
        let mut body = object.body;
        while let Some(bytes) = body.try_next().await.context("reading the recording")? {
            out.write_all(&bytes)
                .await
                .context("writing the temporary file")?;
        }
        out.flush().await.context("writing the temporary file")?;
        let decoded = tokio::task::spawn_blocking(move || {
            let source = file.reopen()?;
            let mut pcm = PcmWriter::create()?;
            decode_mono_16k_into(Box::new(source), &mut |samples| Ok(pcm.write(samples)?))?;
            Ok(pcm.finish()?)
        })
        .await
        .context("decoding interrupted")?;
        decoded.map_err(|e| match e {
            DecodeError::Io(e) => anyhow::Error::new(e).context("reading the audio").into(),
            DecodeError::NoAudioTrack => fail(FailureKind::NoAudioTrack, e),
            DecodeError::Unsupported(_) => fail(FailureKind::UnsupportedMedia, e),
            DecodeError::Corrupt(_) => fail(FailureKind::CorruptMedia, e),
        })
    }

    /// Transcribes one chunk and stores its segments on the recording's clock.
    async fn send_chunk(
        &self,
        whisper: &WhisperClient,
        job: Job,
        audio: &Arc<PcmFile>,
        chunk: Chunk,
    ) -> Result<u32, ActivityError> {
        let Job { org, recording, .. } = job;
        let (audio, range) = (audio.clone(), chunk.range.clone());
        let wav = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
            Ok(chunking::wav(&audio.read_i16(range)?)?)
        })
        .await
        .context("encoding interrupted")?
        .context("encoding a WAV chunk")?;
        let result = whisper
            .transcribe(&format!("chunk-{}.wav", chunk.index), wav.into(), None)
            .await
            .map_err(provider_failure)?;
        let offset = chunking::sample_ms(chunk.range.start);
        let segments: Vec<Segment> = result
            .segments
            .into_iter()
            .map(|s| Segment {
                start_ms: s.start_ms + offset,
                end_ms: s.end_ms + offset,
                ..s
            })
            .collect();
        let mut tx = tenancy::begin(&self.pool, Some(org), None).await?;
        // A chunk sent twice (a retry racing a slow first attempt) keeps its first result.
        sqlx::query(
            "INSERT INTO transcription_chunks (job_id, chunk_index, org_id, start_ms, end_ms, language, segments)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (job_id, chunk_index) DO NOTHING",
        )
        .bind(job.id)
        .bind(chunk.index as i32)
        .bind(org)
        .bind(offset)
        .bind(chunking::sample_ms(chunk.range.end))
        .bind(&result.language)
        .bind(serde_json::to_value(&segments)?)
        .execute(&mut *tx)
        .await?;
        events::transcription_progress(&mut tx, org, recording, job.id, job.chunks).await?;
        tx.commit().await?;
        Ok(chunk.index)
    }

    async fn stitch(
        &self,
        org: Uuid,
        recording: Uuid,
        job: Uuid,
        samples: usize,
    ) -> Result<Collected, ActivityError> {
        let mut tx = tenancy::begin(&self.pool, Some(org), None).await?;
        let chunks: Vec<(Option<String>, serde_json::Value)> = sqlx::query_as(
            "SELECT language, segments FROM transcription_chunks WHERE job_id = $1 ORDER BY chunk_index",
        )
        .bind(job)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut transcript = Transcript {
            language: chunks.iter().find_map(|(l, _)| l.clone()),
            duration_ms: Some(chunking::sample_ms(samples)),
            segments: Vec::new(),
        };
        for (_, segments) in chunks {
            let segments: Vec<Segment> =
                serde_json::from_value(segments).context("stored chunk segments")?;
            transcript.segments.extend(segments);
        }
        match transcript.require_speech() {
            Ok(t) => {
                store_transcript(&self.pool, org, recording, job, &t).await?;
                Ok(Collected::Stored {
                    segments: t.segments.len() as u32,
                    duration_ms: t.duration_ms,
                })
            }
            Err(e @ TranscriptionError::NoSpeech) => {
                let reason = e.to_string();
                self.finish_job(org, job, "failed", Some(&reason)).await?;
                Ok(Collected::Failed {
                    kind: FailureKind::NoSpeech,
                    reason,
                })
            }
            Err(e) => Err(provider_failure(e)),
        }
    }
}
