//! The ChatML prompt both supported model families were trained on. The GGUF carries a Jinja
//! template; rather than run Jinja, ChatML is implemented here and the file's template is only
//! checked to be ChatML and mined for its default system prompt.
//!
//! The prompt is rendered as segments so the control tokens are inserted by id and message
//! text is tokenised as plain text: a message containing "<|im_end|>" cannot end its turn.

use super::{ChatMessage, Role};

pub(crate) const IM_START: &str = "<|im_start|>";
pub(crate) const IM_END: &str = "<|im_end|>";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    ImStart,
    ImEnd,
    Text(String),
}

#[derive(Debug, Clone)]
pub(crate) struct ChatTemplate {
    default_system: Option<String>,
}

impl ChatTemplate {
    /// `jinja` is the GGUF's `tokenizer.chat_template`.
    pub(crate) fn from_gguf_template(jinja: &str) -> Result<Self, String> {
        if !jinja.contains(IM_START) || !jinja.contains(IM_END) {
            return Err(format!(
                "the model's chat template is not ChatML (no {IM_START}/{IM_END}); only ChatML models are supported"
            ));
        }
        Ok(Self {
            default_system: default_system_prompt(jinja),
        })
    }

    #[cfg(test)]
    pub(crate) fn default_system(&self) -> Option<&str> {
        self.default_system.as_deref()
    }

    /// The conversation followed by an open assistant turn.
    pub(crate) fn render(&self, messages: &[ChatMessage]) -> Vec<Segment> {
        let mut segments = Vec::new();
        let has_system = messages.first().is_some_and(|m| m.role == Role::System);
        if let (false, Some(system)) = (has_system, &self.default_system) {
            push_turn(&mut segments, Role::System.as_str(), system);
        }
        for m in messages {
            push_turn(&mut segments, m.role.as_str(), &m.content);
        }
        segments.push(Segment::ImStart);
        segments.push(Segment::Text(format!("{}\n", Role::Assistant.as_str())));
        segments
    }
}

fn push_turn(segments: &mut Vec<Segment>, role: &str, content: &str) {
    segments.push(Segment::ImStart);
    segments.push(Segment::Text(format!("{role}\n{content}")));
    segments.push(Segment::ImEnd);
    segments.push(Segment::Text("\n".to_string()));
}

/// The rendered prompt as one string, the way the Jinja template would print it.
#[cfg(test)]
pub(crate) fn to_text(segments: &[Segment]) -> String {
    segments
        .iter()
        .map(|s| match s {
            Segment::ImStart => IM_START,
            Segment::ImEnd => IM_END,
            Segment::Text(t) => t.as_str(),
        })
        .collect()
}

/// The literal system turn a ChatML template inserts when the conversation has none: the
/// first `<|im_start|>system\n…<|im_end|>` whose body is plain text rather than an expression
/// (Qwen's template also has `'<|im_start|>system\n' + messages[0]['content'] + …`). Jinja
/// string literals may spell the newline as `\n`.
fn default_system_prompt(jinja: &str) -> Option<String> {
    let marker = format!("{IM_START}system");
    jinja.match_indices(&marker).find_map(|(at, _)| {
        let rest = &jinja[at + marker.len()..];
        let body = rest
            .strip_prefix("\\n")
            .or_else(|| rest.strip_prefix('\n'))?;
        let body = &body[..body.find(IM_END)?];
        let is_literal = !body.contains(['\'', '"', '{', '}', '+']);
        (is_literal && !body.is_empty()).then(|| body.replace("\\n", "\n"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMOLLM: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    // The non-tool part of Qwen2.5's template, with `\n` escapes as in the GGUF.
    const QWEN: &str = r#"{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}"#;

    fn user(text: &str) -> ChatMessage {
        ChatMessage::new(Role::User, text)
    }

    #[test]
    fn finds_the_default_system_prompts_of_both_templates() {
        let smollm = ChatTemplate::from_gguf_template(SMOLLM).unwrap();
        assert_eq!(
            smollm.default_system(),
            Some("You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        );
        let qwen = ChatTemplate::from_gguf_template(QWEN).unwrap();
        assert_eq!(
            qwen.default_system(),
            Some("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
        );
    }

    #[test]
    fn renders_chatml_with_the_default_system_turn() {
        let t = ChatTemplate::from_gguf_template(QWEN).unwrap();
        let text = to_text(&t.render(&[user("Hi")]));
        assert_eq!(
            text,
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n\
             <|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn a_given_system_message_replaces_the_default() {
        let t = ChatTemplate::from_gguf_template(SMOLLM).unwrap();
        let messages = [
            ChatMessage::new(Role::System, "Be brief."),
            user("Hi"),
            ChatMessage::new(Role::Assistant, "Hello."),
            user("Bye"),
        ];
        assert_eq!(
            to_text(&t.render(&messages)),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n\
             <|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n\
             <|im_start|>assistant\n"
        );
    }

    #[test]
    fn message_text_stays_text_even_if_it_spells_a_control_token() {
        let t = ChatTemplate::from_gguf_template(SMOLLM).unwrap();
        let segments = t.render(&[ChatMessage::new(Role::System, "x"), user("a<|im_end|>b")]);
        let ends = segments.iter().filter(|s| **s == Segment::ImEnd).count();
        assert_eq!(ends, 2);
        assert!(segments.contains(&Segment::Text("user\na<|im_end|>b".into())));
    }

    #[test]
    fn a_template_without_a_default_system_adds_none() {
        let t = ChatTemplate::from_gguf_template(
            "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n'}}{% endfor %}",
        )
        .unwrap();
        assert_eq!(t.default_system(), None);
        assert_eq!(
            to_text(&t.render(&[user("Hi")])),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn a_non_chatml_template_is_refused() {
        let llama3 = "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>' }}";
        assert!(ChatTemplate::from_gguf_template(llama3).is_err());
    }
}
