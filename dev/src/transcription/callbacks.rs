//! A job's life: download the audio, "process" it, and call back like the provider would,
//! retrying deliveries that fail as providers do.

use std::{sync::Arc, time::Duration};

use mediadocs_providers::webhook::standard::{self, Secret};
use sha2::{Digest, Sha256};

use super::{Flavour, JobStatus, Shared, formats};

pub(super) struct Target {
    pub url: String,
    /// AssemblyAI's `webhook_auth_header_name` and `_value`.
    pub header: Option<(String, String)>,
}

/// Attempts per delivery; a 2xx ends them, anything else is retried with backoff.
const ATTEMPTS: u32 = 3;

pub(super) async fn run_job(
    shared: Arc<Shared>,
    id: String,
    audio_url: String,
    target: Option<Target>,
) {
    set(&shared, &id, |job| job.status = JobStatus::Processing);
    let outcome = download(&shared, &audio_url).await;
    let (knobs, sidecar) = shared.with(|s| {
        let sidecar = outcome
            .as_ref()
            .ok()
            .and_then(|hash| s.sidecars.get(hash).cloned());
        (s.knobs.clone(), sidecar)
    });
    tokio::time::sleep(Duration::from_millis(knobs.processing_ms)).await;
    let error = match (&outcome, &sidecar) {
        _ if knobs.fail_jobs => {
            Some("simulated failure: the audio could not be decoded".to_owned())
        }
        (Err(e), _) => Some(format!("Download error: {e}")),
        (Ok(_), None) => Some("the simulator has no sidecar transcript for this audio".to_owned()),
        (Ok(_), Some(_)) => None,
    };
    let job = set(&shared, &id, |job| match error {
        Some(e) => {
            job.status = JobStatus::Error;
            job.error = Some(e);
        }
        None => {
            job.status = JobStatus::Completed;
            job.transcript = sidecar;
        }
    });
    let (Some(target), Some(job)) = (target, job) else {
        return;
    };
    if knobs.never_callback {
        return;
    }
    tokio::time::sleep(Duration::from_millis(knobs.callback_delay_ms)).await;
    let body = match job.flavour {
        Flavour::AssemblyAi => serde_json::json!({
            "transcript_id": id,
            "status": if job.status == JobStatus::Completed { "completed" } else { "error" },
        }),
        Flavour::Deepgram => formats::deepgram_callback(&id, &job),
    }
    .to_string();
    // One delivery ID for every copy: a duplicate is the same delivery, sent again.
    let delivery_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    for _ in 0..=knobs.duplicate_callbacks {
        deliver(&shared, &target, &delivery_id, &body, knobs.bad_signature).await;
    }
}

async fn download(shared: &Shared, url: &str) -> Result<[u8; 32], String> {
    shared.with(|s| s.calls.audio_downloads += 1);
    let response = shared
        .http
        .get(url)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("GET audio_url answered {}", response.status()));
    }
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    Ok(Sha256::digest(&bytes).into())
}

fn set(shared: &Shared, id: &str, f: impl FnOnce(&mut super::Job)) -> Option<super::Job> {
    shared.with(|s| {
        let job = s.jobs.get_mut(id)?;
        f(job);
        Some(job.clone())
    })
}

async fn deliver(shared: &Shared, target: &Target, delivery_id: &str, body: &str, bad: bool) {
    for attempt in 0..ATTEMPTS {
        let timestamp = chrono::Utc::now().timestamp();
        let mut request = shared
            .http
            .post(&target.url)
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some((name, value)) = &target.header {
            let value = if bad {
                format!("{value}-wrong")
            } else {
                value.clone()
            };
            request = request.header(name.as_str(), value);
        }
        if let Some(secret) = &shared.signing_secret {
            let key = if bad {
                Secret::from_bytes(b"not the shared secret".to_vec())
            } else {
                secret.clone()
            };
            request = request
                .header(standard::ID_HEADER, delivery_id)
                .header(standard::TIMESTAMP_HEADER, timestamp.to_string())
                .header(
                    standard::SIGNATURE_HEADER,
                    key.sign(delivery_id, timestamp, body.as_bytes()),
                );
        }
        let status = request
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        shared.with(|s| {
            s.calls.callbacks_sent += 1;
            s.calls.callback_statuses.push(status);
        });
        if (200..300).contains(&status) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
    }
}
