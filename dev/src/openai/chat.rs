//! `POST /v1/chat/completions`: deterministic Markdown replies, whole or as an SSE stream.

use std::sync::atomic::Ordering::SeqCst;

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Knobs, SCRIPT, Shared, Sim, api_error, fnv1a, millis};

#[derive(Deserialize)]
struct ChatBody {
    model: String,
    messages: Vec<ChatMessage>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
}

#[derive(Deserialize)]
struct ChatMessage {
    role: String,
    #[serde(default)]
    content: Value,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    RateLimited,
    ServerError,
    ContentPolicy,
    Malformed,
    Empty,
}

pub(super) async fn completions(State(sim): Sim, headers: HeaderMap, body: Bytes) -> Response {
    let flight = sim.in_flight();
    sim.counters.chat_requests.fetch_add(1, SeqCst);
    if let Some(denied) = sim.deny(&headers) {
        return denied;
    }
    let request: ChatBody = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            let message = format!("invalid request body: {e}");
            return api_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                None,
                &message,
            );
        }
    };
    if request.stream {
        sim.counters.streaming_requests.fetch_add(1, SeqCst);
    }
    *sim.last_chat
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = request
        .messages
        .iter()
        .map(|m| (m.role.clone(), text_of(&m.content)))
        .collect();
    let (knobs, fault) = {
        let mut knobs = sim.knobs();
        let fault = take_fault(&mut knobs);
        (knobs.clone(), fault)
    };
    tokio::time::sleep(millis(knobs.base_latency_ms)).await;
    match fault {
        Some(Fault::RateLimited) => return rate_limited(knobs.retry_after_secs),
        Some(Fault::ServerError) => {
            let message = "The simulator was told to fail this request.";
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                None,
                message,
            );
        }
        Some(Fault::ContentPolicy) => {
            let message = "Your request was rejected by the (simulated) safety system.";
            let code = Some("content_policy_violation");
            return api_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                code,
                message,
            );
        }
        _ => {}
    }
    let reply = Reply::new(&request, &knobs, fault == Some(Fault::Empty));
    let malformed = fault == Some(Fault::Malformed);
    if request.stream {
        let include_usage = request.stream_options.is_some_and(|o| o.include_usage);
        super::sse::stream(sim.clone(), flight, &knobs, reply, include_usage, malformed)
    } else {
        whole(&sim, &knobs, reply, malformed).await
    }
}

fn take_fault(knobs: &mut Knobs) -> Option<Fault> {
    let counters = [
        (&mut knobs.rate_limit_next, Fault::RateLimited),
        (&mut knobs.server_error_next, Fault::ServerError),
        (&mut knobs.content_policy_next, Fault::ContentPolicy),
        (&mut knobs.malformed_next, Fault::Malformed),
        (&mut knobs.empty_next, Fault::Empty),
    ];
    counters.into_iter().find_map(|(left, fault)| {
        (*left > 0).then(|| {
            *left -= 1;
            fault
        })
    })
}

fn rate_limited(retry_after_secs: u64) -> Response {
    let message = "Rate limit reached (simulated).";
    let mut response = api_error(
        StatusCode::TOO_MANY_REQUESTS,
        "requests",
        Some("rate_limit_exceeded"),
        message,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, retry_after_secs.into());
    response
}

/// What the simulated model says, cut into tokens that keep their trailing whitespace.
pub(super) struct Reply {
    pub(super) id: String,
    model: String,
    pub(super) tokens: Vec<String>,
    pub(super) finish_reason: &'static str,
    prompt_tokens: u64,
}

impl Reply {
    fn new(request: &ChatBody, knobs: &Knobs, empty: bool) -> Self {
        let texts: Vec<String> = request
            .messages
            .iter()
            .map(|m| text_of(&m.content))
            .collect();
        let prompt_tokens = texts
            .iter()
            .map(|t| t.split_whitespace().count() as u64)
            .sum();
        let last_user = request
            .messages
            .iter()
            .rposition(|m| m.role == "user")
            .map_or("", |i| texts[i].as_str());
        let fingerprint = fnv1a(texts.join("\u{0}").as_bytes());
        let system = request
            .messages
            .iter()
            .position(|m| m.role == "system")
            .map_or("", |i| texts[i].as_str());
        let mut tokens = if empty {
            Vec::new()
        } else if let Some(text) = &knobs.reply_text {
            tokenize(text)
        } else if system.contains(DOCUMENT_FORMAT) {
            tokenize(&document(system, last_user, prompt_tokens))
        } else {
            tokenize(&markdown(last_user, prompt_tokens, fingerprint))
        };
        if let Some(words) = knobs.reply_words.map(|w| w as usize) {
            let filler = SCRIPT.iter().flat_map(|s| s.split_whitespace()).cycle();
            let missing = words.saturating_sub(tokens.len());
            tokens.extend(filler.take(missing).map(|w| format!(" {w}")));
            tokens.truncate(words);
        }
        let mut finish_reason = "stop";
        if let Some(limit) = request.max_completion_tokens.or(request.max_tokens)
            && tokens.len() > limit as usize
        {
            tokens.truncate(limit as usize);
            finish_reason = "length";
        }
        let model = match request.model.strip_prefix("simulated-") {
            Some(_) => request.model.clone(),
            None => format!("simulated-{}", request.model),
        };
        Self {
            id: format!("chatcmpl-sim-{fingerprint:016x}"),
            model,
            tokens,
            finish_reason,
            prompt_tokens,
        }
    }

    pub(super) fn usage(&self) -> Value {
        let completion = self.tokens.len() as u64;
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        })
    }

    pub(super) fn chunk(&self, choices: Value, usage: Value) -> Bytes {
        let chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": now(),
            "model": self.model,
            "choices": choices,
            "usage": usage,
        });
        Bytes::from(format!("data: {chunk}\n\n"))
    }
}

fn markdown(last_user: &str, prompt_words: u64, fingerprint: u64) -> String {
    let quote: Vec<&str> = last_user.split_whitespace().take(8).collect();
    format!(
        "## Simulated reply\n\nThe simulator read {prompt_words} words; the last message \
         begins \"{}\".\n\n- Written by a simulator, not a model.\n- Fingerprint {:08x}.\n",
        quote.join(" "),
        fingerprint as u32,
    )
}

/// The phrase mediadocs' document prompt opens with.
const DOCUMENT_FORMAT: &str = "mediadocs document format";

/// A reply in the mediadocs document format, for a system prompt that asks for it: the
/// headings the prompt lists (lines `- ## Heading`), filled with the timestamped lines of the
/// last user message. Still plainly a simulator's: the title and summary say so.
fn document(system: &str, last_user: &str, prompt_words: u64) -> String {
    let mut headings: Vec<&str> = system
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- ## "))
        .map(|h| {
            if h.starts_with('<') {
                "Discussion"
            } else {
                h.trim()
            }
        })
        .collect();
    if headings.is_empty() {
        headings = vec!["Summary", "Discussion", "Key points", "Action items"];
    }
    let moments: Vec<String> = last_user.lines().filter_map(moment).take(6).collect();
    let bullets =
        |n: usize| -> String { moments.iter().take(n).map(|m| format!("- {m}\n")).collect() };
    let mut doc = format!("# Simulated document from {prompt_words} words\n");
    for heading in headings {
        let body = match heading {
            "Summary" => format!(
                "Written by the OpenAI simulator, not a model, from {} timestamped lines.\n",
                moments.len()
            ),
            "Key points" => bullets(3),
            "Action items" => match moments.first() {
                Some(m) => format!(
                    "- Check these notes against the recording, from {} (simulated).\n",
                    stamp_of(m)
                ),
                None => "None.\n".to_owned(),
            },
            _ => bullets(6),
        };
        doc.push_str(&format!("\n## {heading}\n\n{body}"));
    }
    doc
}

/// `[mm:ss] words…` from a line holding a timestamp: up to 12 of the words after it, copied
/// as they are (a careless model copies whatever the prompt holds, links and all).
fn moment(line: &str) -> Option<String> {
    let (open, close) = line
        .char_indices()
        .filter(|(_, c)| *c == '[')
        .find_map(|(i, _)| {
            let close = i + line[i..].find(']')?;
            let inner = &line[i + 1..close];
            let is_time =
                inner.contains(':') && inner.chars().all(|c| c.is_ascii_digit() || c == ':');
            is_time.then_some((i, close))
        })?;
    let words: Vec<&str> = line[close + 1..].split_whitespace().take(12).collect();
    Some(format!("{} {}", &line[open..=close], words.join(" ")))
}

fn stamp_of(moment: &str) -> &str {
    moment.split_whitespace().next().unwrap_or("")
}

/// Message content is a string, or (multimodal form) an array of `{type, text}` parts.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// One token per word, each keeping the whitespace before the next word, so the tokens
/// concatenate back to the text.
fn tokenize(text: &str) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if !c.is_whitespace()
            && current.ends_with(char::is_whitespace)
            && !current.trim().is_empty()
        {
            tokens.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        tokens.push(current);
    }
    tokens
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn whole(sim: &Shared, knobs: &Knobs, reply: Reply, malformed: bool) -> Response {
    let generation = knobs.inter_token_delay_ms * reply.tokens.len() as u64;
    tokio::time::sleep(millis(knobs.time_to_first_token_ms + generation)).await;
    if malformed {
        let cut =
            r#"{"id": "chatcmpl-sim", "object": "chat.completion", "choices": [{"index": 0, "mess"#;
        return ([(header::CONTENT_TYPE, "application/json")], cut).into_response();
    }
    sim.counters
        .tokens_sent
        .fetch_add(reply.tokens.len() as u64, SeqCst);
    Json(json!({
        "id": reply.id,
        "object": "chat.completion",
        "created": now(),
        "model": reply.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply.tokens.concat(), "refusal": null},
            "finish_reason": reply.finish_reason,
            "logprobs": null,
        }],
        "usage": reply.usage(),
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_words_and_concatenate_back() {
        let text = "## Title\n\nOne two  three.\n- x\n";
        let tokens = tokenize(text);
        assert_eq!(tokens.len(), text.split_whitespace().count());
        assert_eq!(tokens.concat(), text);
    }

    #[test]
    fn the_document_format_gets_a_document_of_its_headings() {
        let system = "Write the document in the mediadocs document format.\n- # <title>\n- ## Summary\n- ## Risks\n- ## Key points\n- ## Action items";
        let doc = document(
            system,
            "intro\nSummary 1 from [00:05] to [01:10]: uploads resume\nplain",
            40,
        );
        assert!(doc.starts_with("# Simulated document"), "{doc}");
        for h in ["## Summary", "## Risks", "## Key points", "## Action items"] {
            assert!(doc.contains(h), "{doc}");
        }
        assert!(
            doc.contains("- [00:05] to [01:10]: uploads resume"),
            "{doc}"
        );
        assert!(doc.contains("from [00:05] (simulated)"), "{doc}");
    }

    #[test]
    fn faults_fire_in_order_and_count_down() {
        let mut knobs = Knobs {
            rate_limit_next: 1,
            empty_next: 1,
            ..Knobs::default()
        };
        assert_eq!(take_fault(&mut knobs), Some(Fault::RateLimited));
        assert_eq!(take_fault(&mut knobs), Some(Fault::Empty));
        assert_eq!(take_fault(&mut knobs), None);
    }
}
