//! `POST /v1/chat/completions`, as OpenAI documents it: whole, or streamed as server-sent
//! events ending in `data: [DONE]`, with `usage` (in the stream when
//! `stream_options.include_usage` asks), `max_tokens`/`max_completion_tokens`,
//! `temperature`, `top_p`, `stop` and `seed`.

use std::{convert::Infallible, ops::ControlFlow, sync::Arc};

use axum::{
    Json,
    extract::State,
    response::{
        IntoResponse, Response,
        sse::{Event as SseEvent, Sse},
    },
};
use futures::{StreamExt, stream};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{
    AppState,
    error::ApiError,
    queue::{Running, Ticket},
};
use crate::llm::{ChatMessage, FinishReason, GenerateError, Generation, GenerationParams, Role};

#[derive(Deserialize)]
struct ChatRequest {
    model: String,
    messages: Vec<MessageIn>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    stop: Option<Stop>,
    seed: Option<u64>,
    n: Option<u32>,
}

#[derive(Deserialize)]
struct MessageIn {
    role: String,
    #[serde(default)]
    content: Option<Value>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

/// What the generating thread reports.
enum Event {
    Text(String),
    Done(Result<Generation, GenerateError>),
}

pub async fn completions(
    State(state): State<Arc<AppState>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let Some(pool) = state.models.chat.clone() else {
        return Err(ApiError::unknown_model("chat"));
    };
    let request: ChatRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))?;
    if request.model != pool.id() {
        return Err(ApiError::unknown_model(&request.model));
    }
    let messages = messages(&request.messages)?;
    let params = params(&request, state.limits.max_completion_tokens)?;
    let include_usage = request
        .stream_options
        .as_ref()
        .is_some_and(|o| o.include_usage);
    let ticket = state
        .generations
        .admit()
        .map_err(|full| ApiError::busy("generation", full.retry_after))?;
    let timeout = state.limits.request_timeout;
    let work = async {
        let running = ticket.run().await;
        let mut events = spawn_generation(pool.clone(), (ticket, running), messages, params);
        let first = events.recv().await;
        (events, first)
    };
    let (mut events, first) = tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| ApiError::timeout(timeout))?;
    let first = match first {
        None => {
            return Err(ApiError::internal(
                "the generation stopped without an answer",
            ));
        }
        Some(Event::Done(Err(e))) => return Err(generate_error(e)),
        Some(first) => first,
    };
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    let created = now();
    let model = pool.id().to_owned();
    if request.stream {
        let chunks = stream::once(async move { first })
            .chain(stream::unfold(events, |mut rx| async move {
                rx.recv().await.map(|e| (e, rx))
            }))
            .flat_map(move |event| {
                stream::iter(sse_events(&id, created, &model, event, include_usage))
            });
        return Ok(Sse::new(chunks).into_response());
    }
    let mut content = String::new();
    let mut event = first;
    let generation = loop {
        match event {
            Event::Text(t) => content.push_str(&t),
            Event::Done(done) => break done.map_err(generate_error)?,
        }
        event = tokio::time::timeout(timeout, events.recv())
            .await
            .map_err(|_| ApiError::timeout(timeout))?
            .ok_or_else(|| ApiError::internal("the generation stopped without an answer"))?;
    };
    Ok(Json(json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content },
            "logprobs": null,
            "finish_reason": finish_reason(generation.finish_reason),
        }],
        "usage": usage(&generation),
    }))
    .into_response())
}

fn messages(input: &[MessageIn]) -> Result<Vec<ChatMessage>, ApiError> {
    if input.is_empty() {
        return Err(ApiError::invalid("messages", "messages must not be empty"));
    }
    input
        .iter()
        .map(|m| {
            let role = match m.role.as_str() {
                "system" | "developer" => Role::System,
                "user" => Role::User,
                "assistant" => Role::Assistant,
                other => {
                    return Err(ApiError::invalid(
                        "messages",
                        format!(
                            "role `{other}` is not served here (system, developer, user, assistant)"
                        ),
                    ));
                }
            };
            Ok(ChatMessage {
                role,
                content: content_text(m.content.as_ref())?,
            })
        })
        .collect()
}

/// A message's text: a string, or an array of `{"type": "text", "text": …}` parts.
fn content_text(content: Option<&Value>) -> Result<String, ApiError> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|p| {
                match (
                    p.get("type").and_then(Value::as_str),
                    p.get("text").and_then(Value::as_str),
                ) {
                    (Some("text"), Some(text)) => Ok(text),
                    (kind, _) => Err(ApiError::invalid(
                        "messages",
                        format!("content part {kind:?} is not served here: text only"),
                    )),
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|parts| parts.concat()),
        Some(_) => Err(ApiError::invalid(
            "messages",
            "content must be a string or an array of parts",
        )),
    }
}

fn params(request: &ChatRequest, max_allowed: usize) -> Result<GenerationParams, ApiError> {
    if request.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid("n", "only n = 1 is served"));
    }
    let max_tokens = request
        .max_completion_tokens
        .or(request.max_tokens)
        .unwrap_or(max_allowed as u64);
    if max_tokens == 0 || max_tokens > max_allowed as u64 {
        return Err(ApiError::invalid(
            "max_tokens",
            format!("max_tokens must be between 1 and {max_allowed}"),
        ));
    }
    let temperature = request.temperature.unwrap_or(1.0);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(ApiError::invalid(
            "temperature",
            "temperature must be between 0 and 2",
        ));
    }
    if let Some(p) = request.top_p
        && !(p > 0.0 && p <= 1.0)
    {
        return Err(ApiError::invalid("top_p", "top_p must be in (0, 1]"));
    }
    let stop = match &request.stop {
        None => vec![],
        Some(Stop::One(s)) => vec![s.clone()],
        Some(Stop::Many(v)) => v.clone(),
    };
    if stop.len() > 4 || stop.iter().any(String::is_empty) {
        return Err(ApiError::invalid(
            "stop",
            "stop takes up to 4 non-empty sequences",
        ));
    }
    Ok(GenerationParams {
        max_tokens: max_tokens as usize,
        temperature,
        top_p: request.top_p,
        stop,
        seed: request.seed.unwrap_or(299_792_458),
    })
}

/// Runs the model on a blocking thread; the slot and the model instance come back when it
/// ends. Generation stops at the next token once the receiver is gone (the client left).
fn spawn_generation(
    pool: Arc<super::ChatPool>,
    running: (Ticket, Running),
    messages: Vec<ChatMessage>,
    params: GenerationParams,
) -> mpsc::Receiver<Event> {
    let (tx, rx) = mpsc::channel(64);
    tokio::task::spawn_blocking(move || {
        let _running = running;
        let mut model = pool.take();
        let result = model.generate(&messages, &params, &mut |text| {
            if tx.blocking_send(Event::Text(text.to_owned())).is_err() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        pool.give_back(model);
        if let Ok(g) = &result {
            record(g);
        }
        let _ = tx.blocking_send(Event::Done(result));
    });
    rx
}

fn record(g: &Generation) {
    metrics::counter!("local_models_prompt_tokens_total").increment(g.prompt_tokens as u64);
    metrics::counter!("local_models_completion_tokens_total").increment(g.completion_tokens as u64);
    if g.generation_seconds > 0.0 {
        metrics::histogram!("local_models_generation_tokens_per_second")
            .record(g.completion_tokens as f64 / g.generation_seconds);
    }
    if g.prompt_seconds > 0.0 {
        metrics::histogram!("local_models_prompt_tokens_per_second")
            .record(g.prompt_tokens as f64 / g.prompt_seconds);
    }
    tracing::info!(
        prompt_tokens = g.prompt_tokens,
        completion_tokens = g.completion_tokens,
        prompt_secs = format!("{:.2}", g.prompt_seconds),
        generation_secs = format!("{:.2}", g.generation_seconds),
        finish = ?g.finish_reason,
        "generated"
    );
}

fn sse_events(
    id: &str,
    created: u64,
    model: &str,
    event: Event,
    include_usage: bool,
) -> Vec<Result<SseEvent, Infallible>> {
    let chunk = |choices: Value, usage: Option<Value>| {
        let mut body = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": choices,
        });
        if let Some(u) = usage {
            body["usage"] = u;
        }
        Ok(SseEvent::default().data(body.to_string()))
    };
    match event {
        Event::Text(text) => vec![chunk(
            json!([{ "index": 0, "delta": { "role": "assistant", "content": text }, "finish_reason": null }]),
            None,
        )],
        Event::Done(Ok(g)) => {
            let mut out = vec![chunk(
                json!([{ "index": 0, "delta": {}, "finish_reason": finish_reason(g.finish_reason) }]),
                None,
            )];
            if include_usage {
                out.push(chunk(json!([]), Some(usage(&g))));
            }
            out.push(Ok(SseEvent::default().data("[DONE]")));
            out
        }
        // A failure after the first token: the stream ends without [DONE], which OpenAI
        // clients report as a broken stream.
        Event::Done(Err(e)) => {
            tracing::error!(error = %e, "generation failed mid-stream");
            vec![]
        }
    }
}

fn usage(g: &Generation) -> Value {
    json!({
        "prompt_tokens": g.prompt_tokens,
        "completion_tokens": g.completion_tokens,
        "total_tokens": g.prompt_tokens + g.completion_tokens,
    })
}

fn finish_reason(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Length => "length",
        FinishReason::Stop | FinishReason::Cancelled => "stop",
    }
}

fn generate_error(e: GenerateError) -> ApiError {
    match e {
        GenerateError::PromptTooLong { tokens, limit } => ApiError::context_length(tokens, limit),
        other => ApiError::internal(other.to_string()),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
