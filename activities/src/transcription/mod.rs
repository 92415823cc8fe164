//! The transcription stage's activities: submit a job to an asynchronous provider, collect
//! its transcript into PostgreSQL, and mark a recording failed.
//!
//! `chunked` is the synchronous provider's path (Whisper), which needs no callback.
//!
//! A job row is created before the provider is called, so its ID can go into the callback
//! URL; the provider's job ID is recorded once the provider accepts. A retried submit finds
//! the row and does not submit again once that ID is known; only `collect` submits again,
//! when the provider says it no longer knows the job.

use std::sync::Arc;

use anyhow::Context;
use aws_sdk_s3::presigning::PresigningConfig;
use mediadocs_providers::{
    transcription::{
        AsyncTranscriber, JobState, Provider, Submission, Transcript, TranscriptionError,
        TranscriptionSettings, whisper::WhisperClient,
    },
    webhook::job_token::{self, JobTokens},
};
use mediadocs_store::tenancy;
use mediadocs_workflows::FailureKind;
use mediadocs_workflows::transcription::{
    CollectDef, CollectTranscript, Collected, SubmitDef, SubmitTranscription, SubmittedJob,
    TranscribeChunksDef,
};
use sqlx::{PgPool, Postgres, Transaction};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

use crate::failure::fail;

mod chunked;

pub use chunked::{ChunkProgress, ChunkedTranscriptionSettings};

pub struct Transcription {
    pub pool: PgPool,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub settings: TranscriptionSettings,
    /// `None` when the configured provider is synchronous (Whisper).
    pub transcriber: Option<Arc<dyn AsyncTranscriber>>,
    /// Set when it is.
    pub whisper: Option<Arc<WhisperClient>>,
    pub chunking: ChunkedTranscriptionSettings,
    pub tokens: JobTokens,
    pub timing: TranscriptionTiming,
}

pub use mediadocs_settings::transcription::TranscriptionTiming;

fn provider_failure(e: TranscriptionError) -> ActivityError {
    if e.is_retryable() {
        anyhow::Error::new(e).into()
    } else {
        fail(e.kind(), e)
    }
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: Uuid,
    provider: String,
    provider_job_id: Option<String>,
    status: String,
}

/// Where a job stands: the provider's ID once it accepted, and how it ended, if it has.
#[derive(sqlx::FromRow)]
struct JobProgress {
    provider_job_id: Option<String>,
    status: String,
    error: Option<String>,
}

async fn job_of_run(
    tx: &mut Transaction<'_, Postgres>,
    recording: Uuid,
    run_id: &str,
) -> sqlx::Result<Option<JobRow>> {
    sqlx::query_as(
        "SELECT id, provider, provider_job_id, status FROM transcription_jobs
         WHERE recording_id = $1 AND run_id = $2",
    )
    .bind(recording)
    .bind(run_id)
    .fetch_optional(&mut **tx)
    .await
}

#[activities]
impl Transcription {
    #[activity(definition = SubmitDef)]
    pub async fn submit(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: SubmitTranscription,
    ) -> Result<SubmittedJob, ActivityError> {
        let (org, recording) = (input.recording.org_id, input.recording.recording_id);
        let provider = self.settings.provider;
        let run_id = ctx.info().workflow_run_id.clone().unwrap_or_default();
        let mut tx = tenancy::begin(&self.pool, Some(org), None).await?;
        let key: Option<String> =
            sqlx::query_scalar("SELECT s3_key FROM recordings WHERE id = $1 FOR UPDATE")
                .bind(recording)
                .fetch_optional(&mut *tx)
                .await?;
        let key = key.ok_or_else(|| {
            fail(
                FailureKind::RecordingGone,
                anyhow::anyhow!("recording {recording} is gone"),
            )
        })?;
        let job = match job_of_run(&mut tx, recording, &run_id).await? {
            Some(job) => job,
            None => {
                let id = Uuid::now_v7();
                sqlx::query(
                    "INSERT INTO transcription_jobs (id, org_id, recording_id, attempt, run_id, provider)
                     SELECT $1, $2, $3, coalesce(max(attempt), 0) + 1, $4, $5
                     FROM transcription_jobs WHERE recording_id = $3",
                )
                .bind(id)
                .bind(org)
                .bind(recording)
                .bind(&run_id)
                .bind(provider.as_str())
                .execute(&mut *tx)
                .await?;
                JobRow {
                    id,
                    provider: provider.as_str().to_owned(),
                    provider_job_id: None,
                    status: "submitting".into(),
                }
            }
        };
        tx.commit().await?;

        let submitted = SubmittedJob {
            job_id: job.id.to_string(),
            provider: job.provider.clone(),
            poll_interval_secs: self.timing.poll_interval.as_secs(),
            timeout_secs: self.timing.give_up_after.as_secs(),
            synchronous: self.whisper.is_some(),
        };
        // A synchronous provider is called by `transcribe_chunks`; there is nothing to submit.
        if submitted.synchronous || job.provider_job_id.is_some() || job.status != "submitting" {
            return Ok(submitted);
        }
        let Some(transcriber) = self.transcriber.clone() else {
            return Err(fail(
                FailureKind::TranscriptionUnsupported,
                anyhow::anyhow!("{provider} is not an asynchronous provider"),
            ));
        };
        let provider_job_id = self
            .send_to_provider(transcriber.as_ref(), recording, job.id, &key)
            .await?;
        let mut tx = tenancy::begin(&self.pool, Some(org), None).await?;
        // An early callback may have recorded the ID already; the first one stays.
        sqlx::query(
            "UPDATE transcription_jobs
             SET provider_job_id = COALESCE(provider_job_id, $2), status = 'submitted', updated_at = now()
             WHERE id = $1 AND status = 'submitting'",
        )
        .bind(job.id)
        .bind(&provider_job_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(%recording, job_id = %job.id, %provider_job_id, "transcription submitted");
        Ok(submitted)
    }

    #[activity(definition = CollectDef)]
    pub async fn collect(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: CollectTranscript,
    ) -> Result<Collected, ActivityError> {
        let (org, recording) = (input.recording.org_id, input.recording.recording_id);
        let job_id =
            Uuid::parse_str(&input.job_id).map_err(|e| fail(FailureKind::InvalidInput, e))?;
        let mut tx = tenancy::begin(&self.pool, Some(org), None).await?;
        let row: Option<JobProgress> = sqlx::query_as(
            "SELECT provider_job_id, status, error FROM transcription_jobs WHERE id = $1 AND recording_id = $2",
        )
        .bind(job_id)
        .bind(recording)
        .fetch_optional(&mut *tx)
        .await?;
        let JobProgress {
            provider_job_id,
            status,
            error,
        } = row.ok_or_else(|| {
            fail(
                FailureKind::RecordingGone,
                anyhow::anyhow!("job {job_id} of recording {recording} is gone"),
            )
        })?;
        match status.as_str() {
            "completed" => return Ok(stored_summary(&mut tx, recording).await?),
            "failed" => {
                return Ok(Collected::Failed {
                    kind: FailureKind::TranscriptionFailed,
                    reason: error.unwrap_or_default(),
                });
            }
            _ => {}
        }
        let delivered: Option<serde_json::Value> = sqlx::query_scalar(
            "SELECT payload FROM transcription_deliveries
             WHERE job_id = $1 AND payload IS NOT NULL ORDER BY received_at LIMIT 1",
        )
        .bind(job_id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;

        let transcriber = self.transcriber.clone().ok_or_else(|| {
            fail(
                FailureKind::TranscriptionUnsupported,
                anyhow::anyhow!("no asynchronous provider is configured"),
            )
        })?;
        let state = match (delivered, provider_job_id) {
            (Some(payload), _) => {
                let body =
                    serde_json::to_vec(&payload).context("re-encoding the stored callback")?;
                transcriber
                    .transcript_in_callback(&body)
                    .map(|s| s.unwrap_or(JobState::Pending))
            }
            (None, Some(id)) => match transcriber.fetch(&id).await {
                // Deepgram cannot be polled: its result only ever arrives by callback.
                Err(TranscriptionError::Unsupported(_)) => Ok(JobState::Pending),
                other => other,
            },
            (None, None) => Ok(JobState::Pending),
        };
        let state = match state {
            Err(TranscriptionError::NoSpeech) => {
                let reason = TranscriptionError::NoSpeech.to_string();
                self.finish_job(org, job_id, "failed", Some(&reason))
                    .await?;
                return Ok(Collected::Failed {
                    kind: FailureKind::NoSpeech,
                    reason,
                });
            }
            other => other.map_err(provider_failure)?,
        };
        match state {
            JobState::Pending => Ok(Collected::Pending),
            JobState::Lost(reason) => {
                self.resubmit_lost(transcriber.as_ref(), org, recording, job_id, reason)
                    .await
            }
            JobState::Failed(reason) => {
                self.finish_job(org, job_id, "failed", Some(&reason))
                    .await?;
                Ok(Collected::Failed {
                    kind: FailureKind::TranscriptionFailed,
                    reason,
                })
            }
            JobState::Completed(transcript) => {
                store_transcript(&self.pool, org, recording, job_id, &transcript).await?;
                Ok(Collected::Stored {
                    segments: transcript.segments.len() as u32,
                    duration_ms: transcript.duration_ms,
                })
            }
        }
    }

    #[activity(definition = TranscribeChunksDef)]
    #[tracing::instrument(skip_all, fields(recording_id = %input.recording.recording_id))]
    pub async fn transcribe_chunks(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: CollectTranscript,
    ) -> Result<Collected, ActivityError> {
        let (org, recording) = (input.recording.org_id, input.recording.recording_id);
        let job_id =
            Uuid::parse_str(&input.job_id).map_err(|e| fail(FailureKind::InvalidInput, e))?;
        self.transcribe_in_chunks(&ctx, org, recording, job_id)
            .await
    }
}

/// How often one job is submitted again after its provider lost it.
const MAX_RESUBMISSIONS: i32 = 3;

impl Transcription {
    /// Presigns the audio and submits the job; returns the provider's job ID.
    async fn send_to_provider(
        &self,
        transcriber: &dyn AsyncTranscriber,
        recording: Uuid,
        job: Uuid,
        key: &str,
    ) -> Result<String, ActivityError> {
        let audio_url = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(
                PresigningConfig::expires_in(self.timing.audio_url_ttl)
                    .context("presigning config")?,
            )
            .await
            .context("presigning the audio URL")?;
        let job_id = job.to_string();
        let recording_id = recording.to_string();
        let callback = self.settings.callback_url(
            &recording_id,
            &job_id,
            &self.tokens.token(&recording_id, &job_id),
        );
        let header = self.tokens.header_value(&job_id);
        transcriber
            .submit(&Submission {
                audio_url: audio_url.uri(),
                callback_url: callback.as_str(),
                callback_header: (transcriber.provider() == Provider::AssemblyAi)
                    .then_some((job_token::AUTH_HEADER, header.as_str())),
                language: None,
            })
            .await
            .map_err(provider_failure)
    }

    /// The provider lost the job (a self-hosted server restarted): submit it again under
    /// the same job, so its callback still finds it, up to [`MAX_RESUBMISSIONS`] times;
    /// then the recording fails with the reason rather than waiting out the give-up time.
    /// The swap of provider job IDs is conditional on the lost one, so two collects racing
    /// here record one resubmission and the loser's job is the one that goes unanswered.
    async fn resubmit_lost(
        &self,
        transcriber: &dyn AsyncTranscriber,
        org: Uuid,
        recording: Uuid,
        job: Uuid,
        reason: String,
    ) -> Result<Collected, ActivityError> {
        let mut tx = tenancy::begin(&self.pool, Some(org), None).await?;
        let row: Option<(String, Option<String>, i32)> = sqlx::query_as(
            "SELECT r.s3_key, j.provider_job_id, j.resubmissions
             FROM transcription_jobs j JOIN recordings r ON r.id = j.recording_id
             WHERE j.id = $1 AND j.recording_id = $2",
        )
        .bind(job)
        .bind(recording)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let (key, lost, resubmissions) = row.ok_or_else(|| {
            fail(
                FailureKind::RecordingGone,
                anyhow::anyhow!("job {job} of recording {recording} is gone"),
            )
        })?;
        if resubmissions >= MAX_RESUBMISSIONS {
            let reason = format!(
                "the provider lost the job {} times; last: {reason}",
                resubmissions + 1
            );
            self.finish_job(org, job, "failed", Some(&reason)).await?;
            return Ok(Collected::Failed {
                kind: FailureKind::TranscriptionFailed,
                reason,
            });
        }
        tracing::warn!(%recording, %job, %reason, "the provider lost the job; submitting it again");
        let provider_job_id = self
            .send_to_provider(transcriber, recording, job, &key)
            .await?;
        let mut tx = tenancy::begin(&self.pool, Some(org), None).await?;
        sqlx::query(
            "UPDATE transcription_jobs
             SET provider_job_id = $2, resubmissions = resubmissions + 1, updated_at = now()
             WHERE id = $1 AND provider_job_id IS NOT DISTINCT FROM $3 AND status = 'submitted'",
        )
        .bind(job)
        .bind(&provider_job_id)
        .bind(&lost)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Collected::Pending)
    }

    async fn finish_job(
        &self,
        org: Uuid,
        job: Uuid,
        status: &str,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        let mut tx = tenancy::begin(&self.pool, Some(org), None).await?;
        sqlx::query("UPDATE transcription_jobs SET status = $2, error = $3, updated_at = now() WHERE id = $1")
            .bind(job)
            .bind(status)
            .bind(error)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Replaces the recording's transcript whole, in one transaction, and completes the job.
/// The one writer of transcripts (the test fixtures use it too).
pub async fn store_transcript(
    pool: &PgPool,
    org: Uuid,
    recording: Uuid,
    job: Uuid,
    t: &Transcript,
) -> anyhow::Result<()> {
    let mut tx = tenancy::begin(pool, Some(org), None).await?;
    sqlx::query("DELETE FROM transcripts WHERE recording_id = $1")
        .bind(recording)
        .execute(&mut *tx)
        .await?;
    let provider: String =
        sqlx::query_scalar("SELECT provider FROM transcription_jobs WHERE id = $1")
            .bind(job)
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query(
        "INSERT INTO transcripts (recording_id, org_id, job_id, provider, language, duration_ms, segment_count)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(recording)
    .bind(org)
    .bind(job)
    .bind(&provider)
    .bind(&t.language)
    .bind(t.duration_ms)
    .bind(t.segments.len() as i32)
    .execute(&mut *tx)
    .await?;
    // One statement for all segments: a three-hour transcript has thousands.
    let idx: Vec<i32> = (0..t.segments.len() as i32).collect();
    let column = |f: fn(&mediadocs_providers::transcription::Segment) -> i64| -> Vec<i64> {
        t.segments.iter().map(f).collect()
    };
    sqlx::query(
        "INSERT INTO transcript_segments (recording_id, org_id, idx, start_ms, end_ms, text, speaker, confidence)
         SELECT $1, $2, * FROM UNNEST($3::int[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::real[])",
    )
    .bind(recording)
    .bind(org)
    .bind(&idx)
    .bind(column(|s| s.start_ms))
    .bind(column(|s| s.end_ms))
    .bind(t.segments.iter().map(|s| s.text.clone()).collect::<Vec<_>>())
    .bind(t.segments.iter().map(|s| s.speaker.clone()).collect::<Vec<_>>())
    .bind(t.segments.iter().map(|s| s.confidence).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE transcription_jobs SET status = 'completed', error = NULL, updated_at = now() WHERE id = $1")
        .bind(job)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn stored_summary(
    tx: &mut Transaction<'_, Postgres>,
    recording: Uuid,
) -> anyhow::Result<Collected> {
    let (segments, duration_ms): (i32, Option<i64>) = sqlx::query_as(
        "SELECT segment_count, duration_ms FROM transcripts WHERE recording_id = $1",
    )
    .bind(recording)
    .fetch_one(&mut **tx)
    .await
    .context("a completed job has its transcript")?;
    Ok(Collected::Stored {
        segments: segments as u32,
        duration_ms,
    })
}
