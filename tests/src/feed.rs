//! A client of the live event feed (`/ws`, through tokio-tungstenite), and a way to write
//! events behind the API, for the events tests and the fan-out bench.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{self, Message, client::IntoClientRequest, protocol::CloseFrame},
};
use uuid::Uuid;

use crate::{TestApp, app::Account};

/// How long a test waits for one message before failing.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// The origin the test API allows (`TestContext::api_settings`).
pub const ALLOWED_ORIGIN: &str = "https://app.example.com";

pub struct FeedClient<S = MaybeTlsStream<TcpStream>> {
    pub ws: WebSocketStream<S>,
    /// The missed events `open` received before the ready marker.
    pub replayed: Vec<Value>,
}

/// What the server sent instead of the expected event.
#[derive(Debug)]
pub enum Received {
    Event(Value),
    /// `{"type": "ready", "last_id"}`: every missed event has been sent.
    Ready(i64),
    Closed(Option<(u16, String)>),
}

/// A ticket for `who`, from `POST /api/ws-ticket`.
pub async fn ticket(app: &TestApp, who: &Account) -> String {
    let response = app
        .authed(reqwest::Method::POST, "/api/ws-ticket", who.token())
        .send()
        .await
        .expect("POST /api/ws-ticket");
    assert_eq!(response.status(), 201, "a ticket is issued");
    let body: Value = response.json().await.expect("a JSON ticket");
    body["ticket"].as_str().expect("a ticket").to_owned()
}

/// The `/ws` URL of `app` with `query`.
pub fn ws_url(app: &TestApp, query: &str) -> String {
    format!("{}/ws?{query}", app.base_url.replacen("http", "ws", 1))
}

/// The upgrade request, with a browser's `Origin`.
pub fn request(url: &str, origin: Option<&str>) -> tungstenite::handshake::client::Request {
    let mut request = url.into_client_request().expect("a valid WebSocket URL");
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().expect("a header value"));
    }
    request
}

/// Tries to open the feed: the client, or the HTTP status it was refused with.
pub async fn try_open(url: &str, origin: Option<&str>) -> Result<FeedClient, u16> {
    match tokio_tungstenite::connect_async(request(url, origin)).await {
        Ok((ws, _)) => Ok(FeedClient {
            ws,
            replayed: Vec::new(),
        }),
        Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("opening {url}: {e}"),
    }
}

/// Opens the feed as `who` (from `since`), and waits until it is live.
pub async fn open(app: &TestApp, who: &Account, since: Option<i64>) -> (FeedClient, i64) {
    let ticket = ticket(app, who).await;
    let query = match since {
        Some(since) => format!("ticket={ticket}&since={since}"),
        None => format!("ticket={ticket}"),
    };
    let mut client = try_open(&ws_url(app, &query), Some(ALLOWED_ORIGIN))
        .await
        .expect("the feed opens");
    let mut missed = Vec::new();
    let last_id = loop {
        match client.receive().await {
            Received::Event(e) => missed.push(e),
            Received::Ready(last_id) => break last_id,
            Received::Closed(frame) => panic!("closed before ready: {frame:?}"),
        }
    };
    assert!(
        since.is_some() || missed.is_empty(),
        "a fresh connection replays nothing"
    );
    client.replayed = missed;
    (client, last_id)
}

impl<S> FeedClient<S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    /// The next event, ready marker or close, within [`PATIENCE`]; pings are answered.
    pub async fn receive(&mut self) -> Received {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a message within the patience");
            match next {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).expect("a JSON message");
                    if value["type"] == "ready" {
                        return Received::Ready(value["last_id"].as_i64().expect("last_id"));
                    }
                    return Received::Event(value);
                }
                Some(Ok(Message::Close(frame))) => return Received::Closed(frame.map(close)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Received::Closed(None),
            }
        }
    }

    /// The next event; panics on anything else.
    #[track_caller]
    pub fn event(&mut self) -> impl Future<Output = Value> + '_ {
        let caller = std::panic::Location::caller();
        async move {
            match self.receive().await {
                Received::Event(e) => e,
                other => panic!("expected an event at {caller}, got {other:?}"),
            }
        }
    }

    /// Events until one of `kind` about `recording` arrives (inclusive).
    pub async fn events_until(&mut self, kind: &str, recording: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let event = self.event().await;
            let done = event["type"] == kind && event["payload"]["recording_id"] == recording;
            seen.push(event);
            if done {
                return seen;
            }
        }
    }

    /// Waits for the server to close: the close code and reason. Events before it are
    /// returned too.
    pub async fn closed(&mut self) -> (Vec<Value>, Option<(u16, String)>) {
        let mut events = Vec::new();
        loop {
            match self.receive().await {
                Received::Event(e) => events.push(e),
                Received::Ready(_) => {}
                Received::Closed(frame) => return (events, frame),
            }
        }
    }

    pub async fn send_text(&mut self, text: String) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("sending to the server");
    }
}

fn close(frame: CloseFrame) -> (u16, String) {
    (u16::from(frame.code), frame.reason.to_string())
}

/// Writes an event of `org` the way handlers and activities do (the shared `emit`, under
/// the org's row-level security), and commits. Returns its ID.
pub async fn emit(
    pool: &sqlx::PgPool,
    org: Uuid,
    user: Option<Uuid>,
    kind: &str,
    payload: Value,
) -> i64 {
    let mut tx = mediadocs_store::tenancy::begin(pool, Some(org), None)
        .await
        .expect("a transaction");
    let id = mediadocs_store::events::emit(&mut tx, org, user, kind, payload)
        .await
        .expect("emitting an event");
    tx.commit().await.expect("committing an event");
    id
}
