//! Waiting on a condition with a deadline, instead of sleeping and hoping.

use std::{future::Future, time::Duration};

use mediadocs_workflows::{MediaPipelineWorkflow, bookkeeping::Progress};
use temporalio_client::WorkflowQueryOptions;

/// Polls `probe` every 50 ms until it returns `Some`, or panics after `timeout` naming `what`.
#[track_caller]
pub fn until<T, F, Fut>(what: &str, timeout: Duration, probe: F) -> impl Future<Output = T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let caller = std::panic::Location::caller();
    async move {
        match try_until(timeout, probe).await {
            Some(v) => v,
            None => panic!("timed out after {timeout:?} waiting for {what} (at {caller})"),
        }
    }
}

/// Like [`until`], but returns `None` on timeout.
pub async fn try_until<T, F, Fut>(timeout: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Queries recording `id`'s pipeline for its progress until `reached` holds, and returns
/// that progress; panics after `timeout` naming `what`.
#[track_caller]
pub fn pipeline_progress<'a>(
    client: &'a temporalio_client::Client,
    id: &str,
    what: &'a str,
    timeout: Duration,
    reached: impl Fn(&Progress) -> bool + 'a,
) -> impl Future<Output = Progress> + 'a {
    let handle = client.get_workflow_handle::<MediaPipelineWorkflow>(
        mediadocs_workflows::names::pipeline_workflow_id(id),
    );
    let caller = std::panic::Location::caller();
    async move {
        let handle = &handle;
        let reached = &reached;
        let probe = || async move {
            let p = handle
                .query(
                    MediaPipelineWorkflow::progress,
                    (),
                    WorkflowQueryOptions::default(),
                )
                .await
                .ok()?;
            reached(&p).then_some(p)
        };
        match try_until(timeout, probe).await {
            Some(p) => p,
            None => panic!("timed out after {timeout:?} waiting for {what} (at {caller})"),
        }
    }
}

/// A port nobody listens on right now. Another process could take it before the server
/// binds it; the servers' start-up checks catch that and the harness retries.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding an ephemeral port")
        .port()
}

/// Whether something accepts TCP connections on `port`.
pub async fn listening(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
}
