//! Reading the feed: an org's events after an ID, in order, under the org's row-level
//! security. Every event of an org commits in ID order (see `mediadocs_store::events`), so
//! "after the last ID I saw" never skips one.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

/// Events read per query, when replaying or catching up.
pub const PAGE: i64 = 500;

/// One event as clients receive it (a WebSocket text message, or an SSE `data:` line).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventBody {
    /// Monotonically increasing; resume with `since=<id>` (or `Last-Event-ID`).
    pub id: i64,
    /// `recording.status_changed`, `pipeline.progress`, `document.ready`,
    /// `recording.failed` or `recording.deleted`.
    #[serde(rename = "type")]
    pub kind: String,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
}

/// An event read once and shared by every connection it goes to.
#[derive(Debug)]
pub struct Event {
    pub id: i64,
    /// Set when only this user may see it.
    pub user_id: Option<Uuid>,
    pub kind: String,
    /// The serialised [`EventBody`], made once however many clients receive it.
    pub json: Utf8Bytes,
}

impl Event {
    pub fn visible_to(&self, user: Option<Uuid>) -> bool {
        self.user_id.is_none() || self.user_id == user
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    user_id: Option<Uuid>,
    #[sqlx(rename = "type")]
    kind: String,
    payload: Value,
    created_at: DateTime<Utc>,
}

impl From<Row> for Event {
    fn from(r: Row) -> Self {
        let body = EventBody {
            id: r.id,
            kind: r.kind.clone(),
            payload: r.payload,
            created_at: r.created_at,
        };
        let json = serde_json::to_string(&body).expect("an event serialises");
        Self {
            id: r.id,
            user_id: r.user_id,
            kind: r.kind,
            json: json.into(),
        }
    }
}

/// Whose view of the org's feed a read is.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// Every event of the org: the fan-out reads this and filters per connection.
    Org,
    /// The org-wide events and those for this user (an API key sees only org-wide ones).
    Client { user: Option<Uuid> },
}

/// Up to [`PAGE`] events of `org` after `after`, oldest first.
pub async fn after(
    pool: &PgPool,
    org: Uuid,
    scope: Scope,
    after: i64,
) -> sqlx::Result<Vec<Arc<Event>>> {
    let (filtered, user) = match scope {
        Scope::Org => (false, None),
        Scope::Client { user } => (true, user),
    };
    let mut tx = mediadocs_store::tenancy::begin(pool, Some(org), None).await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, user_id, type, payload, created_at FROM events
         WHERE org_id = $1 AND id > $2
           AND (NOT $3 OR user_id IS NULL OR user_id = $4)
         ORDER BY id LIMIT $5",
    )
    .bind(org)
    .bind(after)
    .bind(filtered)
    .bind(user)
    .bind(PAGE)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|r| Arc::new(r.into())).collect())
}

/// The newest event ID of `org` (0 when it has none).
pub async fn newest(pool: &PgPool, org: Uuid) -> sqlx::Result<i64> {
    let mut tx = mediadocs_store::tenancy::begin(pool, Some(org), None).await?;
    let id: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM events WHERE org_id = $1")
        .bind(org)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(id.unwrap_or(0))
}
