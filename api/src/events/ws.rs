//! `GET /ws`: the feed over a WebSocket.
//!
//! Authenticated by a ticket from `POST /api/ws-ticket` (browsers cannot set headers here),
//! and only from allowed origins. The server pings; a peer that does not answer, or does
//! not take a write, within `WS_PONG_TIMEOUT_SECS` is dead and dropped. Messages from the
//! client are capped at `WS_MAX_MESSAGE_BYTES`; the client has nothing to say beyond
//! pongs, so anything else is ignored.
//!
//! Close codes: 1008 when the access token expires or access is revoked; 1009 for an
//! oversized message; 1013 when the connection fell too far behind (reconnect with
//! `since`); 1011 when the feed cannot be read; 1001 when the server goes away.

use std::time::Duration;

use axum::{
    extract::{
        State,
        ws::{
            CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code,
            rejection::WebSocketUpgradeRejection,
        },
    },
    response::Response,
};
use futures::{
    SinkExt, StreamExt,
    stream::{SplitSink, SplitStream},
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{
    EventSettings,
    access::{Access, Ending},
    subscription::{Item, Stop, Subscription},
    ticket,
};
use crate::{AppState, error::ApiError, extract::ApiQuery};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WsQuery {
    /// From `POST /api/ws-ticket`; single use, valid 30 seconds.
    pub ticket: Option<String>,
    /// The last event ID the client has: every later one is sent, in order, then live ones.
    pub since: Option<i64>,
}

/// Opens the live event feed (WebSocket).
///
/// Each message is a JSON event `{id, type, payload, created_at}`, except one
/// `{"type": "ready", "last_id": n}` once every missed event has been sent.
#[utoipa::path(get, path = "/ws", tag = "events", params(WsQuery),
    responses((status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade", body = crate::error::Problem),
        (status = 401, description = "No ticket, or an unknown, spent or expired one, or the token behind it expired", body = crate::error::Problem),
        (status = 403, description = "The Origin is not allowed", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn connect(
    State(state): State<AppState>,
    headers: http::HeaderMap,
    ApiQuery(query): ApiQuery<WsQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let settings = &state.settings.events;
    if let Some(origin) = headers.get(http::header::ORIGIN) {
        let allowed = origin
            .to_str()
            .is_ok_and(|o| settings.allowed_origins.iter().any(|a| a == o));
        if !allowed {
            return Err(ApiError::Forbidden(
                "this origin may not open the feed".into(),
            ));
        }
    }
    let since = super::since(query.since)?;
    let ticket = query.ticket.ok_or(ApiError::Unauthorized)?;
    let access = ticket::redeem(&state.pool, &ticket)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if access.expired() {
        return Err(ApiError::Unauthorized);
    }
    let max = settings.max_message_bytes;
    Ok(upgrade
        // Clients send little more than pongs: a small read buffer (128 KiB by default, and
        // allocated up front) is most of what an idle connection costs.
        .read_buffer_size(READ_BUFFER)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| serve(socket, state, access, since)))
}

type Sink = SplitSink<WebSocket, Message>;

const READ_BUFFER: usize = 4 * 1024;

#[tracing::instrument(skip_all, fields(org_id = %access.org))]
async fn serve(socket: WebSocket, state: AppState, access: Access, since: Option<i64>) {
    let _open = super::OpenConnection::new("ws");
    let settings = state.settings.clone();
    let within = settings.events.pong_timeout;
    let (mut sink, incoming) = socket.split();
    let started =
        Subscription::start(&state.events, &state.pool, access.org, access.user(), since).await;
    let subscription = match started {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "could not start a feed");
            let frame = close(close_code::ERROR, "the event feed is unavailable");
            send(&mut sink, frame, within).await;
            return;
        }
    };
    let every = settings.events.auth_check_interval;
    let ends = state.events.until_end(access, state.pool.clone(), every);
    let live = Live {
        sink,
        incoming,
        subscription,
        settings: &settings.events,
    };
    if let Some((mut sink, goodbye)) = live.run(ends).await {
        send(&mut sink, goodbye, within).await;
    }
}

/// A connection once its feed has started.
struct Live<'a> {
    sink: Sink,
    incoming: SplitStream<WebSocket>,
    subscription: Subscription,
    settings: &'a EventSettings,
}

impl Live<'_> {
    /// Sends the feed and pings until the connection must end: `None` when the peer is gone
    /// (or dead), else the close frame to say goodbye with.
    async fn run(mut self, ends: impl Future<Output = Ending>) -> Option<(Sink, Message)> {
        let within = self.settings.pong_timeout;
        tokio::pin!(ends);
        let mut pings = tokio::time::interval(self.settings.ping_interval);
        pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        pings.tick().await;
        let pong_deadline = tokio::time::sleep(within);
        tokio::pin!(pong_deadline);
        let mut awaiting_pong = false;
        let goodbye = loop {
            let message = tokio::select! {
                ending = &mut ends => break close(ending.code(), ending.reason()),
                message = self.incoming.next() => match message {
                    Some(Ok(Message::Pong(_))) => { awaiting_pong = false; continue }
                    Some(Ok(Message::Close(_))) | None => return None,
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => break read_error(e)?,
                },
                () = &mut pong_deadline, if awaiting_pong => {
                    tracing::debug!("no pong: dropping a dead peer");
                    return None;
                }
                _ = pings.tick() => {
                    if !awaiting_pong {
                        awaiting_pong = true;
                        pong_deadline.as_mut().reset(tokio::time::Instant::now() + within);
                    }
                    Message::Ping(Default::default())
                }
                item = self.subscription.next() => match item {
                    Ok(item) => message(item),
                    Err(stop) => break stop_frame(&stop, self.subscription.last_id()),
                },
            };
            if !send(&mut self.sink, message, within).await {
                return None;
            }
        };
        Some((self.sink, goodbye))
    }
}

fn message(item: Item) -> Message {
    match item {
        Item::Event(event) => Message::Text(event.json.clone()),
        Item::Live { last_id } => {
            let ready = serde_json::json!({"type": "ready", "last_id": last_id});
            Message::Text(ready.to_string().into())
        }
    }
}

/// Sends with a deadline: a peer that takes no write for that long is dead (or so slow it
/// would hold this task forever). `false` means drop the connection.
async fn send(sink: &mut Sink, message: Message, within: Duration) -> bool {
    match tokio::time::timeout(within, sink.send(message)).await {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            tracing::info!("a peer took no write in time: dropped");
            false
        }
    }
}

fn close(code: u16, reason: &str) -> Message {
    // A close frame's reason has room for 123 bytes.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: reason[..end].into(),
    }))
}

fn stop_frame(stop: &Stop, last_id: i64) -> Message {
    match stop {
        Stop::TooSlow(behind) => {
            tracing::info!(behind, "closing a connection that fell behind");
            metrics::counter!("events_slow_consumers_closed_total").increment(1);
            let reason = format!("too slow: {behind} events behind; resume with since={last_id}");
            close(close_code::AGAIN, &reason)
        }
        Stop::Unavailable(e) => {
            tracing::warn!(error = %e, "reading the event feed failed");
            close(
                close_code::ERROR,
                "the event feed is unavailable; resume later",
            )
        }
        Stop::Closed => close(close_code::AWAY, "the server is going away"),
    }
}

/// The close frame answering a failed read, if the peer can still take one.
fn read_error(e: axum::Error) -> Option<Message> {
    let inner = e.into_inner();
    match inner.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(c)) => {
            Some(close(close_code::SIZE, &format!("message too big: {c}")))
        }
        Some(tungstenite::Error::Protocol(p)) => Some(close(close_code::PROTOCOL, &p.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_reason_is_cut_to_123_bytes_on_a_char_boundary() {
        let Message::Close(Some(frame)) = close(close_code::POLICY, &"é".repeat(100)) else {
            panic!("a close frame");
        };
        assert_eq!(frame.reason.len(), 122);
        assert!(frame.reason.as_str().chars().all(|c| c == 'é'));
    }
}
