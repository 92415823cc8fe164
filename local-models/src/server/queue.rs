//! Bounded admission per model: `concurrency` requests run, `depth` more wait, and the next
//! one is refused at once with a Retry-After estimated from how long runs take, so two
//! cores answer 429 under a burst instead of queueing without end.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct Queue {
    name: &'static str,
    concurrency: usize,
    capacity: usize,
    slots: Arc<Semaphore>,
    admitted: AtomicUsize,
    /// A moving average of run times, for Retry-After.
    average_run: Mutex<Duration>,
}

#[derive(Debug, Clone, Copy)]
pub struct Full {
    pub retry_after: Duration,
}

/// A place in the queue; dropping it (a finished request, or a client that went away)
/// frees the place.
pub struct Ticket {
    queue: Arc<Queue>,
}

/// A running slot; its drop records how long the run took.
pub struct Running {
    _permit: OwnedSemaphorePermit,
    started: Instant,
    queue: Arc<Queue>,
}

impl Queue {
    pub fn new(
        name: &'static str,
        concurrency: usize,
        depth: usize,
        typical_run: Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            name,
            concurrency,
            capacity: concurrency + depth,
            slots: Arc::new(Semaphore::new(concurrency)),
            admitted: AtomicUsize::new(0),
            average_run: Mutex::new(typical_run),
        })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn admit(self: &Arc<Self>) -> Result<Ticket, Full> {
        let admitted = self
            .admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.capacity).then_some(n + 1)
            });
        match admitted {
            Ok(n) => {
                self.report(n + 1);
                Ok(Ticket {
                    queue: self.clone(),
                })
            }
            Err(n) => {
                metrics::counter!("local_models_rejected_total", "queue" => self.name).increment(1);
                Err(Full {
                    retry_after: self.estimate_wait(n),
                })
            }
        }
    }

    /// Requests admitted and not finished: running plus waiting.
    pub fn depth(&self) -> usize {
        self.admitted.load(Ordering::Acquire)
    }

    fn estimate_wait(&self, ahead: usize) -> Duration {
        let average = *self.average_run.lock().unwrap_or_else(|p| p.into_inner());
        let rounds = ahead.div_ceil(self.concurrency).max(1) as u32;
        (average * rounds).clamp(Duration::from_secs(1), Duration::from_secs(600))
    }

    fn report(&self, depth: usize) {
        metrics::gauge!("local_models_queue_depth", "queue" => self.name).set(depth as f64);
    }
}

impl Ticket {
    /// Waits for a free slot.
    pub async fn run(&self) -> Running {
        let permit = self
            .queue
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        Running {
            _permit: permit,
            started: Instant::now(),
            queue: self.queue.clone(),
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let n = self.queue.admitted.fetch_sub(1, Ordering::AcqRel) - 1;
        self.queue.report(n);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let took = self.started.elapsed();
        let mut average = self
            .queue
            .average_run
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *average = (*average * 3 + took) / 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn admits_concurrency_plus_depth_then_refuses_until_a_place_frees() {
        let queue = Queue::new("test", 1, 2, Duration::from_secs(10));
        let tickets: Vec<_> = (0..3).map(|_| queue.admit().unwrap()).collect();
        assert_eq!(queue.depth(), 3);
        let full = queue.admit().err().expect("the fourth is refused");
        // Three ahead, one slot, ten seconds each.
        assert_eq!(full.retry_after, Duration::from_secs(30));
        drop(tickets);
        assert_eq!(queue.depth(), 0);
        assert!(queue.admit().is_ok());
    }

    #[tokio::test]
    async fn one_slot_runs_one_at_a_time() {
        let queue = Queue::new("test", 1, 4, Duration::from_secs(1));
        let (a, b) = (queue.admit().unwrap(), queue.admit().unwrap());
        let running = a.run().await;
        let waiting = tokio::time::timeout(Duration::from_millis(50), b.run()).await;
        assert!(waiting.is_err(), "the second waits for the slot");
        drop(running);
        tokio::time::timeout(Duration::from_millis(50), b.run())
            .await
            .expect("the slot is free again");
    }
}
