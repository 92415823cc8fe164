//! One transcription, the same for both protocols: wait for the model's slot, decode,
//! transcribe, and stop early when the caller has gone.

use std::{
    ops::ControlFlow,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use tempfile::NamedTempFile;

use super::{
    AppState,
    audio_input::{self, AudioError},
    queue::Ticket,
};
use crate::whisper::{TranscribeError, TranscribeOptions, Transcript};

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Model(#[from] TranscribeError),
    #[error("the transcription task stopped: {0}")]
    Task(String),
}

/// Set when whoever waits for the result goes away; the model stops at its next window.
#[derive(Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Cancels on drop: held by a request handler, whose future is dropped when the client
/// disconnects.
pub struct CancelOnDrop(pub Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

pub async fn run(
    state: &Arc<AppState>,
    ticket: &Ticket,
    audio: NamedTempFile,
    options: TranscribeOptions,
    cancel: Cancel,
) -> Result<Transcript, Failure> {
    let whisper = state
        .models
        .whisper
        .clone()
        .ok_or_else(|| Failure::Task("no Whisper model is loaded".into()))?;
    let _running = ticket.run().await;
    if cancel.is_cancelled() {
        return Err(TranscribeError::Cancelled.into());
    }
    let max_secs = state.limits.max_audio_secs;
    let task = tokio::task::spawn_blocking(move || -> Result<Transcript, Failure> {
        let pcm = audio_input::decode(&audio, max_secs)?;
        drop(audio);
        let started = Instant::now();
        let transcript = whisper.transcribe(&pcm, &options, &mut |_| {
            if cancel.is_cancelled() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        let audio_secs = pcm.len() as f64 / f64::from(mediadocs_audio::TARGET_RATE);
        let took = started.elapsed().as_secs_f64();
        metrics::histogram!("local_models_transcription_real_time_factor")
            .record(took / audio_secs);
        metrics::counter!("local_models_transcribed_audio_seconds_total")
            .increment(audio_secs as u64);
        tracing::info!(
            audio_secs = format!("{audio_secs:.1}"),
            took_secs = format!("{took:.1}"),
            real_time_factor = format!("{:.3}", took / audio_secs),
            segments = transcript.segments.len(),
            "transcribed"
        );
        Ok(transcript)
    });
    task.await.map_err(|e| Failure::Task(e.to_string()))?
}
