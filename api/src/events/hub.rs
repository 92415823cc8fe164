//! Fan-out within one API instance: a broadcast channel per org that has live connections,
//! and how far this instance has read that org's feed.
//!
//! The broadcast ring is each connection's bounded buffer: the sender never waits, and a
//! receiver that falls more than its capacity behind learns so (`Lagged`) and is closed,
//! while every other receiver carries on.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use sqlx::PgPool;
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

use super::{
    feed::{self, Event},
    listener::Signal,
};

pub struct Hub {
    orgs: Mutex<HashMap<Uuid, OrgFeed>>,
    capacity: usize,
    signals: mpsc::UnboundedSender<Signal>,
}

struct OrgFeed {
    sender: broadcast::Sender<Arc<Event>>,
    /// The newest event of the org this instance has read (and sent).
    read_to: i64,
}

impl Hub {
    pub fn new(capacity: usize, signals: mpsc::UnboundedSender<Signal>) -> Self {
        Self {
            orgs: Mutex::default(),
            capacity,
            signals,
        }
    }

    /// A receiver of `org`'s events from now on.
    ///
    /// The first connection of an org fixes where this instance starts reading it: the
    /// newest event *before* subscribing, then asks the listener to catch up from there. An
    /// event committed in between is therefore read (late, but never skipped), and each
    /// connection drops what it already has by ID.
    pub async fn subscribe(
        &self,
        pool: &PgPool,
        org: Uuid,
    ) -> sqlx::Result<broadcast::Receiver<Arc<Event>>> {
        if let Some(feed) = self.lock().get(&org) {
            return Ok(feed.sender.subscribe());
        }
        let newest = feed::newest(pool, org).await?;
        let mut orgs = self.lock();
        let mut created = false;
        let feed = orgs.entry(org).or_insert_with(|| {
            created = true;
            OrgFeed {
                sender: broadcast::channel(self.capacity).0,
                read_to: newest,
            }
        });
        let receiver = feed.sender.subscribe();
        if created {
            let _ = self.signals.send(Signal::CatchUp(org));
        }
        Ok(receiver)
    }

    /// How far `org` has been read, or `None` when no connection here follows it (its entry
    /// is dropped then, so an org nobody watches costs nothing).
    pub fn read_to(&self, org: Uuid) -> Option<i64> {
        let mut orgs = self.lock();
        let feed = orgs.get(&org)?;
        if feed.sender.receiver_count() == 0 {
            orgs.remove(&org);
            return None;
        }
        Some(feed.read_to)
    }

    /// Sends `events` (in ID order) to `org`'s connections, skipping any already sent.
    pub fn publish(&self, org: Uuid, events: &[Arc<Event>]) {
        let mut orgs = self.lock();
        let Some(feed) = orgs.get_mut(&org) else {
            return;
        };
        for event in events {
            if event.id <= feed.read_to {
                continue;
            }
            feed.read_to = event.id;
            // An error only means nobody is subscribed any more.
            let _ = feed.sender.send(event.clone());
        }
    }

    /// The orgs followed here, to catch up after the listener was away.
    pub fn orgs(&self) -> Vec<Uuid> {
        self.lock().keys().copied().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, OrgFeed>> {
        // A panic while holding this lock leaves the map consistent (every change is one
        // insert, remove or field write), so a poisoned lock is still usable.
        self.orgs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64) -> Arc<Event> {
        Arc::new(Event {
            id,
            user_id: None,
            kind: "test".into(),
            json: "{}".into(),
        })
    }

    #[test]
    fn publishing_skips_what_was_sent_and_unwatched_orgs_are_forgotten() {
        let (signals, _) = mpsc::unbounded_channel();
        let hub = Hub::new(8, signals);
        let org = Uuid::nil();
        let (sender, mut receiver) = broadcast::channel(8);
        hub.lock().insert(org, OrgFeed { sender, read_to: 0 });

        hub.publish(org, &[event(1), event(2), event(3)]);
        hub.publish(org, &[event(2), event(3), event(4)]);
        let got: Vec<i64> = std::iter::from_fn(|| receiver.try_recv().ok().map(|e| e.id)).collect();
        assert_eq!(got, [1, 2, 3, 4], "each event once, in order");
        assert_eq!(hub.read_to(org), Some(4));

        drop(receiver);
        assert_eq!(hub.read_to(org), None, "nobody follows it any more");
        assert!(hub.orgs().is_empty());
    }
}
