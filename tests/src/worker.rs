//! The worker, run in-process on a thread of its own.
//!
//! The SDK's worker future is not `Send`, so it gets a current-thread runtime on a dedicated
//! thread, with its own Temporal client and pool built there.

use std::thread::JoinHandle;

use mediadocs_config::{DatabaseSettings, S3Settings, TemporalSettings, connect};
use tokio::sync::oneshot;

use crate::TestContext;

pub struct TestWorker {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestWorker {
    pub fn spawn(ctx: &TestContext) -> Self {
        Self::spawn_with(
            ctx.temporal_settings(),
            ctx.database_settings(),
            ctx.s3_settings(),
        )
    }

    pub fn spawn_with(
        temporal: TemporalSettings,
        database: DatabaseSettings,
        s3: S3Settings,
    ) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("test-worker".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async move {
                    let client = connect::temporal(&temporal, "mediadocs-test-worker").await?;
                    let pool = connect::postgres(&database)?;
                    mediadocs_worker::run(
                        client,
                        &temporal.task_queue,
                        mediadocs_worker::Dependencies {
                            pool,
                            s3: connect::s3(&s3),
                            bucket: s3.bucket.clone(),
                        },
                        async {
                            let _ = stopped.await;
                        },
                    )
                    .await
                })
            })
            .expect("starting the worker thread");
        Self {
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops the worker gracefully and returns how its run ended.
    pub fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| anyhow::anyhow!("the worker thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}
