//! `GET /api/events`: the same feed as Server-Sent Events, for clients that prefer
//! `EventSource` (or can set headers: bearer auth, API keys included).
//!
//! Each event carries `id:` (so the browser resumes with `Last-Event-ID` by itself) and its
//! type as `event:`. `event: ready` marks the end of the missed events; `event: close`
//! (data `{"reason"}`) precedes the server ending the stream: the token expired, access was
//! revoked, or the client fell too far behind.

use std::{convert::Infallible, pin::Pin, time::Duration};

use axum::{
    extract::State,
    response::sse::{Event as SseEvent, KeepAlive, Sse},
};
use futures::{Stream, stream};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{
    access::{Access, Ending},
    subscription::{Item, Stop, Subscription},
};
use crate::{AppState, auth::Principal, error::ApiError, extract::ApiQuery};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SseQuery {
    /// Resume after this event ID (the `Last-Event-ID` header wins when both are sent).
    pub since: Option<i64>,
}

/// The live event feed as Server-Sent Events.
#[utoipa::path(get, path = "/api/events", tag = "events", security(("bearer" = [])),
    params(SseQuery, ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event ID")),
    responses((status = 200, description = "`text/event-stream` of events", content_type = "text/event-stream",
            body = super::feed::EventBody),
        (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all, fields(org_id = %principal.org_id))]
pub async fn stream(
    State(state): State<AppState>,
    principal: Principal,
    headers: http::HeaderMap,
    ApiQuery(query): ApiQuery<SseQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let last_event_id = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| ApiError::BadRequest("Last-Event-ID must be an event ID".into()))?,
        ),
        None => None,
    };
    let since = super::since(last_event_id.or(query.since))?;
    let access = Access::of(&state, &principal, &headers);
    let subscription =
        Subscription::start(&state.events, &state.pool, access.org, access.user(), since).await?;
    let every = state.settings.events.auth_check_interval;
    let ends = Box::pin(state.events.until_end(access, state.pool.clone(), every));
    let feed = Feed {
        subscription,
        ends,
        done: false,
        _open: super::OpenConnection::new("sse"),
    };
    let keep_alive = KeepAlive::new().interval(
        state
            .settings
            .events
            .ping_interval
            .min(Duration::from_secs(15)),
    );
    Ok(Sse::new(stream::unfold(feed, next)).keep_alive(keep_alive))
}

struct Feed {
    subscription: Subscription,
    ends: Pin<Box<dyn Future<Output = Ending> + Send>>,
    done: bool,
    _open: super::OpenConnection,
}

async fn next(mut feed: Feed) -> Option<(Result<SseEvent, Infallible>, Feed)> {
    if feed.done {
        return None;
    }
    let event = tokio::select! {
        ending = &mut feed.ends => {
            feed.done = true;
            closing(ending.reason())
        }
        item = feed.subscription.next() => match item {
            Ok(Item::Event(e)) => SseEvent::default()
                .id(e.id.to_string())
                .event(&e.kind)
                .data(e.json.as_str()),
            Ok(Item::Live { last_id }) => SseEvent::default()
                .event("ready")
                .data(serde_json::json!({"last_id": last_id}).to_string()),
            Err(stop) => {
                feed.done = true;
                let last_id = feed.subscription.last_id();
                match stop {
                    Stop::TooSlow(behind) => closing(&format!(
                        "too slow: {behind} events behind; resume with Last-Event-ID {last_id}"
                    )),
                    Stop::Unavailable(e) => {
                        tracing::warn!(error = %e, "reading the event feed failed");
                        closing("the event feed is unavailable; resume later")
                    }
                    Stop::Closed => closing("the server is going away"),
                }
            }
        },
    };
    Some((Ok(event), feed))
}

fn closing(reason: &str) -> SseEvent {
    SseEvent::default()
        .event("close")
        .data(serde_json::json!({"reason": reason}).to_string())
}
