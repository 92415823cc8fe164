//! Cursor pagination, the same on every list: `?cursor=…&limit=…` in, `next_cursor` out.
//!
//! The cursor is opaque to clients: base64url of the last row's sort key, (created_at, id),
//! which pages stably while rows are inserted.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, FieldError};

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Absent on the last page.
    pub next_cursor: Option<String>,
}

/// A validated page request: rows strictly after `after`, at most `limit` of them.
pub struct PageRequest {
    pub after: Option<(DateTime<Utc>, Uuid)>,
    /// A list sorted by a text column (a title) keys on it before the ID.
    pub after_text: Option<String>,
    pub limit: i64,
}

impl PageRequest {
    /// The `after` key as two bind values, both NULL for the first page. Queries filter with
    /// `($2::timestamptz IS NULL OR (created_at, id) > ($2, $3))`.
    pub fn after_keys(&self) -> (Option<DateTime<Utc>>, Option<Uuid>) {
        (self.after.map(|a| a.0), self.after.map(|a| a.1))
    }

    pub fn after_text(&self) -> Option<String> {
        self.after_text.clone()
    }

    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }
}

impl TryFrom<PageQuery> for PageRequest {
    type Error = ApiError;
    fn try_from(q: PageQuery) -> Result<Self, ApiError> {
        let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
        let mut errors = Vec::new();
        if !(1..=MAX_LIMIT).contains(&limit) {
            errors.push(FieldError::new(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after = match q.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => {
                let decoded = decode(c);
                if decoded.is_none() {
                    errors.push(FieldError::new("cursor", "is not a cursor this API issued"));
                }
                decoded
            }
        };
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Ok(Self {
            after: after.as_ref().map(|k| (k.t, k.id)),
            after_text: after.and_then(|k| k.s),
            limit,
        })
    }
}

/// A row's sort key, as the next page's cursor carries it.
#[derive(Serialize, Deserialize)]
pub struct Cursor {
    pub t: DateTime<Utc>,
    pub id: Uuid,
    /// The text key of a list sorted by text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s: Option<String>,
}

fn decode(cursor: &str) -> Option<Cursor> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Builds a page from `rows` fetched with [`PageRequest::fetch`], given each row's sort key.
pub fn page<T>(
    rows: Vec<T>,
    request: &PageRequest,
    key: impl Fn(&T) -> (DateTime<Utc>, Uuid),
) -> Page<T> {
    page_by(rows, request, |row| {
        let (t, id) = key(row);
        Cursor { t, id, s: None }
    })
}

/// [`page`] for lists whose key is a whole [`Cursor`].
pub fn page_by<T>(mut rows: Vec<T>, request: &PageRequest, key: impl Fn(&T) -> Cursor) -> Page<T> {
    let more = rows.len() as i64 > request.limit;
    rows.truncate(request.limit as usize);
    let next_cursor = more.then(|| {
        let cursor = key(rows.last().expect("a full page has a last row"));
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).expect("a key serialises"))
    });
    Page {
        items: rows,
        next_cursor,
    }
}

/// Fetches one page of a list. `sql` binds `$1` to `scope` (the org, or the user), `$2`/`$3`
/// to the cursor key (NULL on the first page), `$4` to the row limit, and orders by the same
/// key; `to_item` turns each row into the response item whose key the next cursor holds.
pub async fn fetch_page<R, T>(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    sql: &'static str,
    scope: Uuid,
    request: &PageRequest,
    to_item: impl Fn(R) -> anyhow::Result<T>,
    key: impl Fn(&T) -> (DateTime<Utc>, Uuid),
) -> Result<Page<T>, ApiError>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let (after_t, after_id) = request.after_keys();
    let rows: Vec<R> = sqlx::query_as(sql)
        .bind(scope)
        .bind(after_t)
        .bind(after_id)
        .bind(request.fetch())
        .fetch_all(&mut **tx)
        .await?;
    let items = rows
        .into_iter()
        .map(to_item)
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(page(items, request, key))
}
