//! One `LISTEN mediadocs_events` per API instance. A notification carries only the event's
//! ID and org; the instance then reads that org's feed from where it stopped, under the
//! org's row-level security, and hands the events to the hub. After the listening
//! connection drops, every followed org is read from where it stopped, so notifications
//! lost meanwhile cost latency, not events.

use std::{sync::Arc, time::Duration};

use serde::Deserialize;
use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{
    feed::{self, PAGE, Scope},
    hub::Hub,
};

pub const CHANNEL: &str = "mediadocs_events";

/// What the reader acts on, in order.
#[derive(Debug)]
pub enum Signal {
    /// An event was committed.
    Notified { id: i64, org: Uuid },
    /// Read the org from where this instance stopped (its first connection arrived, or a
    /// read failed and is retried).
    CatchUp(Uuid),
    /// The listening connection was (re)established: read every followed org.
    Listening,
}

#[derive(Deserialize)]
struct Payload {
    id: i64,
    org_id: Uuid,
}

/// Holds the LISTEN connection (`pool` is its own) and forwards what it hears. Reconnects
/// with a growing pause while PostgreSQL is away.
pub async fn listen(pool: PgPool, signals: mpsc::UnboundedSender<Signal>) {
    let mut pause = Duration::from_millis(100);
    loop {
        match follow(&pool, &signals).await {
            Ok(()) => return, // the reader is gone: the API is shutting down
            Err(e) => tracing::warn!(error = %e, "event listener lost PostgreSQL; reconnecting"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

async fn follow(pool: &PgPool, signals: &mpsc::UnboundedSender<Signal>) -> sqlx::Result<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    if signals.send(Signal::Listening).is_err() {
        return Ok(());
    }
    loop {
        let signal = match listener.try_recv().await? {
            Some(n) => match serde_json::from_str::<Payload>(n.payload()) {
                Ok(p) => Signal::Notified {
                    id: p.id,
                    org: p.org_id,
                },
                Err(e) => {
                    tracing::warn!(error = %e, payload = n.payload(), "unreadable event notification");
                    continue;
                }
            },
            // sqlx reconnected already; what was sent meanwhile is lost, so read it all.
            None => Signal::Listening,
        };
        if signals.send(signal).is_err() {
            return Ok(());
        }
    }
}

/// Reads the feed for each signal and publishes what it finds, one org at a time.
pub async fn read(
    pool: PgPool,
    hub: Arc<Hub>,
    mut signals: mpsc::UnboundedReceiver<Signal>,
    retry: mpsc::UnboundedSender<Signal>,
) {
    while let Some(signal) = signals.recv().await {
        match signal {
            Signal::Notified { id, org } => {
                // Already read along with an earlier one, or nobody here follows the org.
                if hub.read_to(org).is_some_and(|read_to| id > read_to) {
                    catch_up(&pool, &hub, org, &retry).await;
                }
            }
            Signal::CatchUp(org) => catch_up(&pool, &hub, org, &retry).await,
            Signal::Listening => {
                for org in hub.orgs() {
                    catch_up(&pool, &hub, org, &retry).await;
                }
            }
        }
    }
}

async fn catch_up(pool: &PgPool, hub: &Hub, org: Uuid, retry: &mpsc::UnboundedSender<Signal>) {
    while let Some(read_to) = hub.read_to(org) {
        match feed::after(pool, org, Scope::Org, read_to).await {
            Ok(events) => {
                hub.publish(org, &events);
                if (events.len() as i64) < PAGE {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, %org, "reading the event feed failed; retrying");
                let retry = retry.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let _ = retry.send(Signal::CatchUp(org));
                });
                return;
            }
        }
    }
}
