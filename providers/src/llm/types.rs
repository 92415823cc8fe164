//! The requests and answers of [`super::ChatClient`], independent of async-openai's types.

/// Who said a [`Message`]. The system prompt is [`ChatRequest::system`], not a role here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

/// One chat call: a system prompt, the conversation so far, and limits on the answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    pub system: Option<String>,
    pub messages: Vec<Message>,
    /// Sent as `max_tokens`; `None` leaves the server's default.
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
}

impl ChatRequest {
    pub fn new(system: impl Into<String>) -> Self {
        Self {
            system: Some(system.into()),
            ..Self::default()
        }
    }

    pub fn user(mut self, content: impl Into<String>) -> Self {
        self.messages.push(Message {
            role: Role::User,
            content: content.into(),
        });
        self
    }

    pub fn assistant(mut self, content: impl Into<String>) -> Self {
        self.messages.push(Message {
            role: Role::Assistant,
            content: content.into(),
        });
        self
    }

    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    pub fn temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }
}

/// Tokens as the server counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total: u32,
}

/// A whole answer from [`super::ChatClient::complete`].
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// Never empty: an empty answer is [`super::LlmError::Empty`].
    pub text: String,
    pub usage: Usage,
    /// The model that answered, as the server names it.
    pub model: String,
    /// `stop`, or `length` when `max_tokens` cut the answer short.
    pub finish_reason: String,
}

/// What [`super::ChatClient::stream`] yields: text deltas, then exactly one `Finished`.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Delta(String),
    /// The last event. `usage` is `None` only when the server ignores
    /// `stream_options.include_usage` (some older local servers do).
    Finished {
        finish_reason: String,
        usage: Option<Usage>,
    },
}
