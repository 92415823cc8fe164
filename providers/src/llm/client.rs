//! [`ChatClient`]: one configured model on one OpenAI-compatible server.

use async_openai::{
    Client,
    config::OpenAIConfig,
    types::chat::{
        ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
        ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
        ChatCompletionStreamOptions, CompletionUsage, CreateChatCompletionRequest,
        CreateChatCompletionResponse, FinishReason,
    },
};
use futures::Stream;
use tokio::time::{Instant, timeout_at};

use super::{
    ChatRequest, Completion, LlmError, LlmSettings, Role, StreamEvent, Usage, stream, telemetry,
    transport,
};

#[derive(Clone, Debug)]
pub struct ChatClient {
    client: Client<OpenAIConfig>,
    settings: LlmSettings,
}

impl ChatClient {
    pub fn new(settings: &LlmSettings) -> Result<Self, LlmError> {
        Ok(Self {
            client: transport::client(
                &settings.base_url,
                settings.api_key.as_ref(),
                settings.max_retries,
            )?,
            settings: settings.clone(),
        })
    }

    pub fn model(&self) -> &str {
        &self.settings.model
    }

    /// The model's context window, for callers that split long inputs.
    pub fn context_tokens(&self) -> u32 {
        self.settings.context_tokens
    }

    /// The whole answer, within [`LlmSettings::timeout`] including retries.
    #[tracing::instrument(skip_all, fields(model = %self.settings.model))]
    pub async fn complete(&self, request: &ChatRequest) -> Result<Completion, LlmError> {
        let deadline = Instant::now() + self.settings.timeout;
        let chat = self.client.chat();
        let call = chat.create(self.wire(request, false));
        let result = match timeout_at(deadline, transport::with_deadline(deadline, call)).await {
            Err(_) => Err(LlmError::Timeout(format!(
                "no answer within {:?}",
                self.settings.timeout
            ))),
            Ok(answer) => answer.map_err(LlmError::from_openai).and_then(completion),
        };
        if let Ok(completion) = &result {
            telemetry::record_usage(&self.settings.model, &completion.usage);
        }
        telemetry::record_result(&self.settings.model, &result);
        result
    }

    /// The answer as it is written. The first token must arrive within
    /// [`LlmSettings::timeout`], and each later chunk within
    /// [`LlmSettings::stream_idle_timeout`] of the one before. Dropping the stream closes
    /// the upstream request, so the server stops generating.
    #[tracing::instrument(skip_all, fields(model = %self.settings.model))]
    pub async fn stream(
        &self,
        request: &ChatRequest,
    ) -> Result<impl Stream<Item = Result<StreamEvent, LlmError>> + Send + 'static, LlmError> {
        let first_token_by = Instant::now() + self.settings.timeout;
        let chat = self.client.chat();
        let call = chat.create_stream(self.wire(request, true));
        let opened = match timeout_at(
            first_token_by,
            transport::with_deadline(first_token_by, call),
        )
        .await
        {
            Err(_) => Err(LlmError::Timeout(format!(
                "no response within {:?}",
                self.settings.timeout
            ))),
            Ok(opened) => opened.map_err(LlmError::from_openai),
        };
        let upstream =
            opened.inspect_err(|e| telemetry::record_outcome(&self.settings.model, e.kind()))?;
        Ok(stream::events(
            upstream,
            self.settings.model.clone(),
            first_token_by,
            self.settings.stream_idle_timeout,
        ))
    }

    // `max_tokens` is deprecated in favour of `max_completion_tokens`, but Ollama, vLLM and
    // llama.cpp's server all understand `max_tokens`, and not all of them the newer name.
    #[allow(deprecated)]
    fn wire(&self, request: &ChatRequest, stream: bool) -> CreateChatCompletionRequest {
        let system = request.system.iter().map(|s| {
            ChatCompletionRequestMessage::from(ChatCompletionRequestSystemMessage::from(s.as_str()))
        });
        let messages = request.messages.iter().map(|m| match m.role {
            Role::User => ChatCompletionRequestUserMessage::from(m.content.as_str()).into(),
            Role::Assistant => {
                ChatCompletionRequestAssistantMessage::from(m.content.as_str()).into()
            }
        });
        CreateChatCompletionRequest {
            model: self.settings.model.clone(),
            messages: system.chain(messages).collect(),
            max_tokens: request.max_tokens,
            temperature: request.temperature,
            stream: stream.then_some(true),
            stream_options: stream.then_some(ChatCompletionStreamOptions {
                include_usage: Some(true),
                include_obfuscation: None,
            }),
            ..Default::default()
        }
    }
}

fn completion(response: CreateChatCompletionResponse) -> Result<Completion, LlmError> {
    let choice = response
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| LlmError::Malformed("the answer has no choices".into()))?;
    let finish_reason = choice.finish_reason;
    if finish_reason == Some(FinishReason::ContentFilter) {
        return Err(LlmError::ContentPolicy(
            "the provider's filter withheld the answer".into(),
        ));
    }
    if let Some(refusal) = choice.message.refusal {
        return Err(LlmError::ContentPolicy(format!(
            "the model refused: {refusal}"
        )));
    }
    let finish_reason = finish_reason_name(finish_reason);
    let text = choice.message.content.unwrap_or_default();
    if text.trim().is_empty() {
        return Err(LlmError::Empty { finish_reason });
    }
    let usage = response.usage.map(usage).unwrap_or_else(|| {
        tracing::warn!("the LLM server reported no token usage");
        Usage::default()
    });
    Ok(Completion {
        text,
        usage,
        model: response.model,
        finish_reason,
    })
}

pub(super) fn usage(u: CompletionUsage) -> Usage {
    Usage {
        prompt_tokens: u.prompt_tokens,
        completion_tokens: u.completion_tokens,
        total: u.total_tokens,
    }
}

pub(super) fn finish_reason_name(reason: Option<FinishReason>) -> String {
    match reason {
        None => "unknown",
        Some(FinishReason::Stop) => "stop",
        Some(FinishReason::Length) => "length",
        Some(FinishReason::ToolCalls) => "tool_calls",
        Some(FinishReason::ContentFilter) => "content_filter",
        Some(FinishReason::FunctionCall) => "function_call",
    }
    .to_owned()
}
