//! The live event feed: an org's events, as they are committed, over WebSocket (`/ws`) or
//! SSE (`/api/events`), resumable by event ID, fanned out by every API instance.
//!
//! PostgreSQL is the only broker: events are rows written in the transaction of the change
//! they report (`mediadocs_store::events::emit`); a trigger NOTIFYs; each instance LISTENs
//! and reads what it has not yet read.
//!
//! - [`feed`]: reading an org's events after an ID.
//! - [`listener`]: the instance's one LISTEN connection and the reader behind it.
//! - [`hub`]: fan-out to this instance's connections, each with a bounded buffer.
//! - [`subscription`]: one connection's missed-then-live sequence, exactly once.
//! - [`access`]: when a connection must end (token expiry, revocation).
//! - [`ticket`], [`ws`], [`sse`]: the endpoints.
//! - [`retention`]: pruning old events.

pub mod access;
pub mod feed;
pub mod hub;
pub mod listener;
pub mod retention;
pub mod sse;
pub mod subscription;
pub mod ticket;
pub mod ws;

use std::{sync::Arc, time::Duration};

use sqlx::{PgPool, postgres::PgPoolOptions};
use tokio::{
    sync::{mpsc, watch},
    task::AbortHandle,
};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use mediadocs_settings::events::EventSettings;

use crate::{AppState, error::ApiError, error::FieldError};
use access::{Access, Ending};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ticket::create))
        .routes(routes!(ws::connect))
        .routes(routes!(sse::stream))
}

/// This instance's fan-out: the hub, and the background tasks that feed and prune it, which
/// stop when the last clone of the state is dropped.
#[derive(Clone)]
pub struct Events {
    pub hub: Arc<hub::Hub>,
    closing: Arc<watch::Sender<bool>>,
    _tasks: Arc<Tasks>,
}

impl Events {
    /// Starts listening and pruning. Needs a Tokio runtime.
    pub fn start(pool: &PgPool, settings: &EventSettings) -> Self {
        let (signals, received) = mpsc::unbounded_channel();
        let hub = Arc::new(hub::Hub::new(settings.connection_buffer, signals.clone()));
        let tasks = vec![
            tokio::spawn(listener::listen(own_pool(pool), signals.clone())).abort_handle(),
            tokio::spawn(listener::read(
                own_pool(pool),
                hub.clone(),
                received,
                signals,
            ))
            .abort_handle(),
            tokio::spawn(retention::prune_periodically(
                pool.clone(),
                settings.retention,
                settings.prune_interval,
            ))
            .abort_handle(),
        ];
        Self {
            hub,
            closing: Arc::new(watch::channel(false).0),
            _tasks: Arc::new(Tasks(tasks)),
        }
    }

    /// Ends every live connection (1001), so a graceful shutdown does not wait on SSE
    /// streams that would otherwise run until their token expires.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves when `access` must end, or the instance is shutting down.
    fn until_end(
        &self,
        access: Access,
        pool: PgPool,
        every: Duration,
    ) -> impl Future<Output = Ending> + Send + 'static {
        let mut closing = self.closing.subscribe();
        async move {
            tokio::select! {
                ending = access.ends(pool, every) => ending,
                _ = closing.wait_for(|c| *c) => Ending::ShuttingDown,
            }
        }
    }
}

/// One connection of its own, with the request pool's settings: the LISTEN must hold one
/// for good, and the fan-out's reads must never queue behind requests (or behind the live
/// connections' periodic access checks) for a pooled one.
fn own_pool(pool: &PgPool) -> PgPool {
    PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with((*pool.connect_options()).clone())
}

struct Tasks(Vec<AbortHandle>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// `since` as given by a client: an event ID, never negative.
fn since(since: Option<i64>) -> Result<Option<i64>, ApiError> {
    match since {
        Some(n) if n < 0 => Err(ApiError::Validation(vec![FieldError::new(
            "since",
            "must be an event ID (0 or more)",
        )])),
        other => Ok(other),
    }
}

/// Counts open connections (`events_connections{transport}`) while alive.
struct OpenConnection(&'static str);

impl OpenConnection {
    fn new(transport: &'static str) -> Self {
        metrics::gauge!("events_connections", "transport" => transport).increment(1.0);
        Self(transport)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        metrics::gauge!("events_connections", "transport" => self.0).decrement(1.0);
    }
}
