//! One connection's view of the feed: the events it missed (from `since`), in order, then
//! live ones, each exactly once.
//!
//! It subscribes to the hub *before* reading the missed events, so an event committed while
//! they are read arrives live as well; the seam is closed by delivering only IDs above the
//! last one delivered. Within an org IDs commit in order, so nothing falls in between.

use std::{collections::VecDeque, sync::Arc};

use sqlx::PgPool;
use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

use super::{
    Events,
    feed::{self, Event, PAGE, Scope},
};

pub struct Subscription {
    pool: PgPool,
    org: Uuid,
    user: Option<Uuid>,
    live: broadcast::Receiver<Arc<Event>>,
    missed: VecDeque<Arc<Event>>,
    /// Still reading missed events from the database.
    replaying: bool,
    /// Whether [`Item::Live`] has been sent.
    announced: bool,
    /// The last ID delivered (or the client's `since`).
    last_id: i64,
}

/// What a connection sends next.
#[derive(Debug)]
pub enum Item {
    Event(Arc<Event>),
    /// Every missed event has been sent; from here on events are live. Sent once.
    Live {
        last_id: i64,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum Stop {
    /// The connection fell more than its buffer behind.
    #[error("too slow: fell {0} events behind")]
    TooSlow(u64),
    /// The feed could not be read; the client should resume elsewhere or later.
    #[error("the event feed is unavailable")]
    Unavailable(#[from] sqlx::Error),
    /// The instance is shutting down.
    #[error("the server is going away")]
    Closed,
}

impl Subscription {
    /// Follows `org` as `user` sees it. Without `since`, from the newest event on.
    pub async fn start(
        events: &Events,
        pool: &PgPool,
        org: Uuid,
        user: Option<Uuid>,
        since: Option<i64>,
    ) -> sqlx::Result<Self> {
        let live = events.hub.subscribe(pool, org).await?;
        let (last_id, replaying) = match since {
            Some(since) => (since, true),
            None => (feed::newest(pool, org).await?, false),
        };
        Ok(Self {
            pool: pool.clone(),
            org,
            user,
            live,
            missed: VecDeque::new(),
            replaying,
            announced: false,
            last_id,
        })
    }

    /// The next item. Cancel-safe: nothing is consumed until it is returned.
    pub async fn next(&mut self) -> Result<Item, Stop> {
        loop {
            if let Some(event) = self.missed.pop_front() {
                self.last_id = event.id;
                return Ok(Item::Event(event));
            }
            if self.replaying {
                let scope = Scope::Client { user: self.user };
                let page = feed::after(&self.pool, self.org, scope, self.last_id).await?;
                self.replaying = page.len() as i64 == PAGE;
                self.missed.extend(page);
                continue;
            }
            if !self.announced {
                self.announced = true;
                return Ok(Item::Live {
                    last_id: self.last_id,
                });
            }
            match self.live.recv().await {
                Ok(event) if event.id > self.last_id && event.visible_to(self.user) => {
                    self.last_id = event.id;
                    return Ok(Item::Event(event));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => return Err(Stop::TooSlow(n)),
                Err(RecvError::Closed) => return Err(Stop::Closed),
            }
        }
    }

    pub fn last_id(&self) -> i64 {
        self.last_id
    }
}
