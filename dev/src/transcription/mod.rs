//! The transcription simulator: speaks AssemblyAI's API (`/v2/transcript`, as self-hosted
//! transcribers do too) and Deepgram's pre-recorded API (`/v1/listen?callback=`), and calls
//! back like they do, optionally signing with Standard Webhooks.
//!
//! It transcribes nothing. It downloads the audio from the URL it is given, hashes it, and
//! answers with the *sidecar* registered for those bytes: `<name>.transcript.json` next to
//! `<name>.<ext>` in its media directory (our [`Transcript`] JSON), or one a test registered.
//! Audio it has no sidecar for fails the job, as a provider fails on audio it cannot decode.
//!
//! Knobs ([`Knobs`]) add the failures real providers produce; counters ([`Calls`]) let
//! tests assert what happened.

mod callbacks;
mod formats;
mod server;

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use mediadocs_providers::{transcription::Transcript, webhook::standard::Secret};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Failure and timing knobs. All default to a well-behaved provider.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Knobs {
    /// How long a job stays `processing` before it completes (and the callback is sent).
    pub processing_ms: u64,
    /// Extra wait between completion and the callback.
    pub callback_delay_ms: u64,
    /// Each callback is delivered this many extra times (same delivery ID).
    pub duplicate_callbacks: u32,
    /// Never call back; only polling sees the result.
    pub never_callback: bool,
    /// Sign callbacks with the wrong key (and send a wrong auth header value).
    pub bad_signature: bool,
    /// Jobs end in `error`, as for audio the provider cannot decode.
    pub fail_jobs: bool,
    /// The next N submissions answer 500.
    pub submit_500: u32,
    /// The next N polls answer a truncated body.
    pub truncated_polls: u32,
    /// Answer a submission only after the job's callback was delivered, so the callback
    /// arrives while the submitter still waits for the job's ID: an early webhook.
    pub answer_submit_after_callback: bool,
}

/// What the simulator received and sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Calls {
    pub submissions: u64,
    pub polls: u64,
    pub audio_downloads: u64,
    pub callbacks_sent: u64,
    /// HTTP status of each callback attempt, in order (0: no response).
    pub callback_statuses: Vec<u16>,
}

#[derive(Default)]
struct State {
    knobs: Knobs,
    calls: Calls,
    /// Sidecars by the SHA-256 of the media bytes.
    sidecars: HashMap<[u8; 32], Transcript>,
    jobs: HashMap<String, Job>,
}

#[derive(Clone)]
struct Job {
    flavour: Flavour,
    status: JobStatus,
    transcript: Option<Transcript>,
    error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    AssemblyAi,
    Deepgram,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobStatus {
    Queued,
    Processing,
    Completed,
    Error,
}

/// A running simulator. Dropping it stops the server.
pub struct TranscriptionSimulator {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    _server: tokio::task::JoinHandle<()>,
}

struct Shared {
    state: Mutex<State>,
    /// Signs callbacks with Standard Webhooks when set (the self-hosted protocol).
    signing_secret: Option<Secret>,
    /// Required as the `authorization` header when set.
    api_key: Option<String>,
    http: reqwest::Client,
}

impl Shared {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("simulator state"))
    }
}

#[derive(Default)]
pub struct Options {
    pub signing_secret: Option<Secret>,
    pub api_key: Option<String>,
    pub media_dir: Option<std::path::PathBuf>,
}

impl TranscriptionSimulator {
    /// Binds `addr` (port 0 for any) and serves on the current runtime.
    pub async fn start(addr: &str, options: Options) -> anyhow::Result<Self> {
        let mut state = State::default();
        if let Some(dir) = &options.media_dir {
            state.sidecars = load_media_dir(dir)?;
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            signing_secret: options.signing_secret,
            api_key: options.api_key,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
        });
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let router = server::router(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            addr,
            shared,
            _server: server,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Makes the simulator answer `transcript` for audio whose bytes are `media`.
    pub fn register(&self, media: &[u8], transcript: Transcript) {
        let hash: [u8; 32] = Sha256::digest(media).into();
        self.shared.with(|s| s.sidecars.insert(hash, transcript));
    }

    pub fn set_knobs(&self, knobs: Knobs) {
        self.shared.with(|s| s.knobs = knobs);
    }

    pub fn calls(&self) -> Calls {
        self.shared.with(|s| s.calls.clone())
    }
}

impl Drop for TranscriptionSimulator {
    fn drop(&mut self) {
        self._server.abort();
    }
}

/// Every `<name>.<ext>` with a `<name>.transcript.json` beside it.
fn load_media_dir(dir: &Path) -> anyhow::Result<HashMap<[u8; 32], Transcript>> {
    let mut sidecars = HashMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.ends_with(".transcript.json") || !path.is_file() {
            continue;
        }
        let sidecar = path.with_extension("transcript.json");
        if !sidecar.exists() {
            continue;
        }
        let transcript: Transcript = serde_json::from_slice(&std::fs::read(&sidecar)?)
            .map_err(|e| anyhow::anyhow!("{}: {e}", sidecar.display()))?;
        let hash: [u8; 32] = Sha256::digest(std::fs::read(&path)?).into();
        sidecars.insert(hash, transcript);
    }
    Ok(sidecars)
}
