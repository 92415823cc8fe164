//! An answer's events as server-sent events, or collected into one JSON answer.

use std::{convert::Infallible, time::Duration};

use axum::response::sse::{self, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde::Serialize;
use serde_json::json;
use tokio::sync::mpsc;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    sources::Source,
    turn::{Event, TokenUsage},
};
use crate::error::ApiError;

/// `sources`, `delta`s (`{"text": …}`), then `done` or `error`, each as JSON; a comment
/// every `keep_alive` while nothing else is sent. Dropping the body (the client went away)
/// closes the channel, which stops the answer's task and its upstream request.
pub fn sse(
    mut events: mpsc::Receiver<Event>,
    keep_alive: Duration,
) -> Sse<impl Stream<Item = Result<sse::Event, Infallible>>> {
    let stream = futures::stream::poll_fn(move |cx| events.poll_recv(cx)).map(|event| {
        let (name, data) = match event {
            Event::Sources(s) => ("sources", serde_json::to_value(s)),
            Event::Delta(text) => ("delta", Ok(json!({ "text": text }))),
            Event::Done(d) => ("done", serde_json::to_value(d)),
            Event::Error(p) => ("error", serde_json::to_value(p)),
        };
        let data = data.unwrap_or_else(|_| json!({}));
        Ok(sse::Event::default().event(name).data(data.to_string()))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(keep_alive))
}

/// The answer of `Accept: application/json`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatAnswer {
    pub conversation_id: Uuid,
    pub message_id: Uuid,
    pub answer: String,
    pub sources: Vec<Source>,
    pub citations: Vec<i32>,
    pub usage: TokenUsage,
    pub time_to_first_token_ms: Option<u64>,
}

/// Waits for the whole answer. A failure of the model is a 503 naming it (what it wrote is
/// stored, marked incomplete, as in the stream).
pub async fn collect(mut events: mpsc::Receiver<Event>) -> Result<ChatAnswer, ApiError> {
    let (mut answer, mut sources) = (String::new(), Vec::new());
    while let Some(event) = events.recv().await {
        match event {
            Event::Sources(s) => sources = s.sources,
            Event::Delta(text) => answer.push_str(&text),
            Event::Done(done) => {
                return Ok(ChatAnswer {
                    conversation_id: done.conversation_id,
                    message_id: done.message_id,
                    answer,
                    sources,
                    citations: done.citations,
                    usage: done.usage,
                    time_to_first_token_ms: done.time_to_first_token_ms,
                });
            }
            Event::Error(problem) if problem.dependency.is_some() => {
                return Err(ApiError::Unavailable {
                    dependency: "llm",
                    detail: problem.detail,
                });
            }
            Event::Error(problem) => return Err(anyhow::anyhow!(problem.detail).into()),
        }
    }
    Err(anyhow::anyhow!("the answer's task ended without a result").into())
}
