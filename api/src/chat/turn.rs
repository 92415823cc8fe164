//! One answer, produced by a task of its own: the sources, the model's deltas, and the
//! stored message at the end, sent to whoever listens (the SSE body or the JSON collector).
//!
//! The task, not the response body, owns the LLM stream, so it can store what was written
//! when the listener goes away. It watches the channel closing while it waits on the model:
//! a client that disconnects has the upstream request dropped at once, not at the next token.

use std::time::Instant;

use futures::StreamExt;
use mediadocs_providers::llm::{ChatClient, ChatRequest, LlmError, StreamEvent, Usage};
use serde::Serialize;
use sqlx::PgPool;
use tokio::sync::mpsc;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{citations, prompt, sources::Source, store};
use crate::error::Problem;

/// What an answer says, in order: `Sources`, `Delta`s, then `Done` or `Error`.
#[derive(Debug)]
pub enum Event {
    Sources(SourcesEvent),
    Delta(String),
    Done(DoneEvent),
    Error(Problem),
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourcesEvent {
    pub conversation_id: Uuid,
    /// The ID the answer will be stored under.
    pub message_id: Uuid,
    /// Empty when nothing relevant was found; the answer then says so, without a model.
    pub sources: Vec<Source>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DoneEvent {
    pub conversation_id: Uuid,
    pub message_id: Uuid,
    /// The source numbers the answer cites that exist.
    pub citations: Vec<i32>,
    pub usage: TokenUsage,
    /// From the request to the model until its first token; absent when no model was asked.
    pub time_to_first_token_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct TokenUsage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
}

/// The answer when no passage is in scope: said plainly, without asking a model.
pub const NOTHING_FOUND: &str = "I found nothing relevant to this question in the recordings \
I can search, so I cannot answer it from them.";

/// Everything one answer needs. `llm` is `None` when there is nothing to ask it about.
pub struct Turn {
    pub pool: PgPool,
    pub org: Uuid,
    pub conversation: Uuid,
    pub message_id: Uuid,
    pub sources: Vec<Source>,
    pub llm: Option<(ChatClient, ChatRequest)>,
}

/// Starts the answer; the events arrive on the returned channel.
pub fn start(turn: Turn) -> mpsc::Receiver<Event> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(run(turn, tx));
    rx
}

/// How the model's part ended.
enum End {
    Finished(Option<Usage>),
    Failed(LlmError),
    Disconnected,
}

async fn run(turn: Turn, tx: mpsc::Sender<Event>) {
    let _ = tx
        .send(Event::Sources(SourcesEvent {
            conversation_id: turn.conversation,
            message_id: turn.message_id,
            sources: turn.sources.clone(),
        }))
        .await;
    let Some((llm, request)) = &turn.llm else {
        let _ = tx.send(Event::Delta(NOTHING_FOUND.to_owned())).await;
        finish(&turn, &tx, NOTHING_FOUND, End::Finished(None), None, 0).await;
        return;
    };
    let prompt_estimate = request
        .system
        .iter()
        .chain(request.messages.iter().map(|m| &m.content))
        .map(|t| prompt::tokens(t))
        .sum::<usize>();
    let started = Instant::now();
    let mut text = String::new();
    let mut first_token = None;
    let end = tokio::select! {
        biased;
        _ = tx.closed() => End::Disconnected,
        end = relay(llm, request, &tx, &mut text, &mut first_token, started) => end,
    };
    let ttft = first_token.map(|t: std::time::Duration| t.as_millis() as u64);
    finish(&turn, &tx, &text, end, ttft, prompt_estimate).await;
}

/// Forwards the model's deltas until it finishes or fails. Cancelled (dropping the upstream
/// stream, which closes its connection) when the listener goes away.
async fn relay(
    llm: &ChatClient,
    request: &ChatRequest,
    tx: &mpsc::Sender<Event>,
    text: &mut String,
    first_token: &mut Option<std::time::Duration>,
    started: Instant,
) -> End {
    let stream = match llm.stream(request).await {
        Ok(stream) => stream,
        Err(e) => return End::Failed(e),
    };
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(StreamEvent::Delta(delta)) => {
                first_token.get_or_insert_with(|| started.elapsed());
                text.push_str(&delta);
                if tx.send(Event::Delta(delta)).await.is_err() {
                    return End::Disconnected;
                }
            }
            Ok(StreamEvent::Finished { usage, .. }) => return End::Finished(usage),
            Err(e) => return End::Failed(e),
        }
    }
    End::Failed(LlmError::Interrupted(
        "the stream ended without a finish".into(),
    ))
}

/// Stores the answer as it ended, counts its tokens against the org's budget, then tells
/// the listener (stored first, so a client that sees `done` can read the message back).
async fn finish(
    turn: &Turn,
    tx: &mpsc::Sender<Event>,
    text: &str,
    end: End,
    ttft: Option<u64>,
    prompt_estimate: usize,
) {
    let citations = citations::cited(text, turn.sources.len());
    let asked = turn.llm.is_some();
    let usage = match &end {
        End::Finished(Some(u)) => TokenUsage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.total,
        },
        // The provider bills what it read and wrote even when we never see its count.
        _ if asked => {
            let (p, c) = (prompt_estimate as u32, prompt::tokens(text) as u32);
            TokenUsage {
                prompt_tokens: p,
                completion_tokens: c,
                total_tokens: p + c,
            }
        }
        _ => TokenUsage::default(),
    };
    let stop_reason = match &end {
        End::Finished(_) => None,
        End::Failed(_) => Some("llm_error"),
        End::Disconnected => Some("client_disconnected"),
    };
    let model = turn.llm.as_ref().map(|(llm, _)| llm.model().to_owned());
    let answer = store::Answer {
        id: turn.message_id,
        org: turn.org,
        conversation: turn.conversation,
        content: text,
        sources: &turn.sources,
        citations: &citations,
        stop_reason,
        model: model.as_deref(),
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        time_to_first_token_ms: ttft.map(|t| t as u32),
    };
    if let Err(e) = save(turn, &answer, usage.total_tokens).await {
        tracing::error!(error = ?e, message_id = %turn.message_id, "storing a chat answer");
        let problem = Problem::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an unexpected error occurred",
        );
        let _ = tx.send(Event::Error(problem)).await;
        return;
    }
    let event = match end {
        End::Finished(_) => Event::Done(DoneEvent {
            conversation_id: turn.conversation,
            message_id: turn.message_id,
            citations,
            usage,
            time_to_first_token_ms: ttft,
        }),
        End::Failed(e) => {
            tracing::warn!(error = %e, kind = e.kind(), message_id = %turn.message_id, "LLM failed mid-answer");
            Event::Error(Problem {
                dependency: Some("llm".into()),
                ..Problem::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "llm-failed",
                    "the language model failed before finishing the answer; \
                     what it wrote was kept, marked incomplete",
                )
            })
        }
        End::Disconnected => return,
    };
    let _ = tx.send(event).await;
}

async fn save(turn: &Turn, answer: &store::Answer<'_>, tokens: u32) -> anyhow::Result<()> {
    let mut db = mediadocs_store::tenancy::begin(&turn.pool, Some(turn.org), None).await?;
    store::insert_answer(&mut db, answer).await?;
    if tokens > 0 {
        mediadocs_store::usage::record(&mut db, turn.org, u64::from(tokens)).await?;
    }
    db.commit().await?;
    Ok(())
}
