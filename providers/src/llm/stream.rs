//! Turns async-openai's chunk stream into [`StreamEvent`]s, with the stream's timeouts and
//! the checks that tell a finished answer from one cut short.

use std::time::Duration;

use async_openai::types::chat::{ChatCompletionResponseStream, FinishReason};
use futures::{Stream, StreamExt};
use tokio::time::{Instant, timeout, timeout_at};

use super::{
    LlmError, StreamEvent, Usage,
    client::{finish_reason_name, usage},
    telemetry,
};

pub(super) fn events(
    upstream: ChatCompletionResponseStream,
    model: String,
    first_token_by: Instant,
    idle: Duration,
) -> impl Stream<Item = Result<StreamEvent, LlmError>> + Send + 'static {
    let state = State {
        upstream,
        model,
        first_token_by,
        idle,
        text_seen: false,
        finish_reason: None,
        usage: None,
        ended: false,
    };
    futures::stream::unfold(state, |mut state| async move {
        let event = state.next_event().await?;
        Some((event, state))
    })
}

struct State {
    /// Dropping it makes async-openai's reader task drop the HTTP response, which closes
    /// the connection: that is how the server learns we stopped listening.
    upstream: ChatCompletionResponseStream,
    model: String,
    first_token_by: Instant,
    idle: Duration,
    text_seen: bool,
    finish_reason: Option<FinishReason>,
    usage: Option<Usage>,
    /// The outcome has been counted; nothing more will be yielded.
    ended: bool,
}

impl State {
    async fn next_event(&mut self) -> Option<Result<StreamEvent, LlmError>> {
        if self.ended {
            return None;
        }
        let event = self.advance().await;
        match &event {
            Ok(StreamEvent::Delta(_)) => return Some(event),
            Ok(StreamEvent::Finished { usage, .. }) => {
                if let Some(usage) = usage {
                    telemetry::record_usage(&self.model, usage);
                }
                telemetry::record_outcome(&self.model, "ok");
            }
            Err(e) => telemetry::record_outcome(&self.model, e.kind()),
        }
        self.ended = true;
        Some(event)
    }

    async fn advance(&mut self) -> Result<StreamEvent, LlmError> {
        loop {
            // Until the first token the call's own timeout applies (a model may think long
            // before writing); after it, silence means the server or the link has stalled.
            let next = if self.text_seen {
                timeout(self.idle, self.upstream.next()).await
            } else {
                timeout_at(self.first_token_by, self.upstream.next()).await
            };
            let chunk = match next {
                Err(_) if self.text_seen => {
                    return Err(LlmError::Timeout(format!(
                        "stream silent for {:?}",
                        self.idle
                    )));
                }
                Err(_) => return Err(LlmError::Timeout("no first token in time".into())),
                Ok(None) => return self.finish(),
                Ok(Some(Err(e))) => return Err(LlmError::from_openai(e)),
                Ok(Some(Ok(chunk))) => chunk,
            };
            if let Some(u) = chunk.usage {
                self.usage = Some(usage(u));
            }
            // We ask for one choice; the usage chunk has none.
            let Some(choice) = chunk.choices.into_iter().next() else {
                continue;
            };
            if choice.finish_reason.is_some() {
                self.finish_reason = choice.finish_reason;
            }
            if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                self.text_seen = true;
                return Ok(StreamEvent::Delta(text));
            }
        }
    }

    /// The upstream ended: with `[DONE]`, or with the connection closed between chunks,
    /// which async-openai does not tell apart. A `finish_reason` is what proves the model
    /// got to the end.
    fn finish(&mut self) -> Result<StreamEvent, LlmError> {
        match self.finish_reason.take() {
            None => Err(LlmError::Interrupted(
                "the stream ended before the model reported a finish_reason".into(),
            )),
            Some(FinishReason::ContentFilter) => Err(LlmError::ContentPolicy(
                "the provider's filter cut the answer".into(),
            )),
            Some(reason) if !self.text_seen => Err(LlmError::Empty {
                finish_reason: finish_reason_name(Some(reason)),
            }),
            Some(reason) => Ok(StreamEvent::Finished {
                finish_reason: finish_reason_name(Some(reason)),
                usage: self.usage,
            }),
        }
    }
}

impl Drop for State {
    fn drop(&mut self) {
        if !self.ended {
            telemetry::record_outcome(&self.model, "abandoned");
        }
    }
}
