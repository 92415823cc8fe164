//! The SSE body of a streamed chat answer: tokens paced by the knobs, the finish and usage
//! chunks, `[DONE]`, and the bookkeeping that notices a client walking away.

use std::{collections::VecDeque, sync::Arc, sync::atomic::Ordering::SeqCst};

use axum::{
    body::{Body, Bytes},
    http::header,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{InFlight, Knobs, Shared, chat::Reply, millis};

enum Step {
    Token(String),
    Finish,
    Usage,
    Done,
    /// Close the connection without `[DONE]`.
    Cut,
    Raw(&'static str),
}

/// The body of one streamed answer. Dropped before `[DONE]` means the client went away.
struct Sse {
    sim: Arc<Shared>,
    _flight: InFlight,
    reply: Reply,
    steps: VecDeque<Step>,
    ttft_ms: u64,
    inter_token_ms: u64,
    started: bool,
    over: bool,
}

impl Drop for Sse {
    fn drop(&mut self) {
        if !self.over {
            self.sim.counters.streams_abandoned.fetch_add(1, SeqCst);
            tracing::info!(id = %self.reply.id, "OpenAI simulator: client abandoned a stream");
        }
    }
}

pub(super) fn stream(
    sim: Arc<Shared>,
    flight: InFlight,
    knobs: &Knobs,
    reply: Reply,
    include_usage: bool,
    malformed: bool,
) -> Response {
    let mut steps: VecDeque<Step> = reply.tokens.iter().cloned().map(Step::Token).collect();
    match knobs.drop_stream_after_tokens {
        Some(n) if (n as usize) < steps.len() => {
            steps.truncate(n as usize);
            steps.push_back(Step::Cut);
        }
        _ => {
            steps.push_back(Step::Finish);
            if include_usage {
                steps.push_back(Step::Usage);
            }
            steps.push_back(Step::Done);
        }
    }
    if malformed {
        steps = VecDeque::from([
            Step::Raw("data: {\"id\": \"chatcmpl-sim\", \"choices\": [\n\n"),
            Step::Done,
        ]);
    }
    let sse = Sse {
        sim,
        _flight: flight,
        reply,
        steps,
        ttft_ms: knobs.time_to_first_token_ms,
        inter_token_ms: knobs.inter_token_delay_ms,
        started: false,
        over: false,
    };
    let body = futures::stream::unfold(sse, |mut sse| async move {
        let step = sse.steps.pop_front()?;
        let item = sse.emit(step).await;
        Some((item, sse))
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

impl Sse {
    async fn emit(&mut self, step: Step) -> Result<Bytes, std::io::Error> {
        let delay = if self.started {
            self.inter_token_ms
        } else {
            self.ttft_ms
        };
        if matches!(step, Step::Token(_)) || !self.started {
            tokio::time::sleep(millis(delay)).await;
        }
        let first = !self.started;
        self.started = true;
        Ok(match step {
            Step::Token(token) => {
                self.sim.counters.tokens_sent.fetch_add(1, SeqCst);
                let mut delta = json!({"content": token});
                if first {
                    delta["role"] = "assistant".into();
                }
                let choice =
                    json!([{"index": 0, "delta": delta, "finish_reason": null, "logprobs": null}]);
                self.reply.chunk(choice, Value::Null)
            }
            Step::Finish => {
                let choice = json!([{"index": 0, "delta": {}, "finish_reason": self.reply.finish_reason, "logprobs": null}]);
                self.reply.chunk(choice, Value::Null)
            }
            Step::Usage => self.reply.chunk(json!([]), self.reply.usage()),
            Step::Raw(raw) => Bytes::from_static(raw.as_bytes()),
            Step::Done => {
                self.over = true;
                Bytes::from_static(b"data: [DONE]\n\n")
            }
            Step::Cut => {
                // Not the client's doing, so not counted as abandoned. An error from the
                // body makes hyper close the connection mid-response, discarding what it
                // has not flushed yet: the pause lets the promised N tokens reach the client.
                self.over = true;
                tokio::time::sleep(millis(self.inter_token_ms.max(50))).await;
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "the simulator was told to cut this stream",
                ));
            }
        })
    }
}
