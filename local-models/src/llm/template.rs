//! The chat template. Both supported model families use ChatML; rather than run the GGUF's
//! Jinja template, the prompt is rendered here and the template is only checked to be
//! ChatML, and read for its default system prompt.

use super::{ChatMessage, Role};

pub struct ChatMl {
    default_system: Option<String>,
}

impl ChatMl {
    /// `None` when `template` is not ChatML.
    pub fn from_template(template: &str) -> Option<Self> {
        template.contains("<|im_start|>").then(|| Self {
            default_system: default_system(template),
        })
    }

    pub fn render(&self, messages: &[ChatMessage]) -> String {
        let mut out = String::new();
        if messages.first().is_none_or(|m| m.role != Role::System)
            && let Some(system) = &self.default_system
        {
            push(&mut out, "system", system);
        }
        for m in messages {
            let role = match m.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            push(&mut out, role, &m.content);
        }
        out.push_str("<|im_start|>assistant\n");
        out
    }
}

fn push(out: &mut String, role: &str, content: &str) {
    out.push_str("<|im_start|>");
    out.push_str(role);
    out.push('\n');
    out.push_str(content);
    out.push_str("<|im_end|>\n");
}

/// The system prompt the template inserts when a conversation has none: a literal
/// `'<|im_start|>system\n…<|im_end|>` with no template expression inside.
fn default_system(template: &str) -> Option<String> {
    // The newline is written either as an escape inside the Jinja string or as itself.
    ["<|im_start|>system\\n", "<|im_start|>system\n"]
        .iter()
        .find_map(|open| literal_after(template, open))
}

fn literal_after(template: &str, open: &str) -> Option<String> {
    let mut rest = template;
    while let Some(at) = rest.find(open) {
        rest = &rest[at + open.len()..];
        let Some(end) = rest.find("<|im_end|>") else {
            break;
        };
        let text = &rest[..end];
        if !text.contains(['{', '}', '\'', '+']) && !text.trim().is_empty() {
            return Some(text.replace("\\n", "\n"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const QWEN_LIKE: &str = "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}{%- endif %}";

    fn user(text: &str) -> ChatMessage {
        ChatMessage {
            role: Role::User,
            content: text.into(),
        }
    }

    #[test]
    fn renders_chatml_with_the_templates_default_system_prompt() {
        let t = ChatMl::from_template(QWEN_LIKE).unwrap();
        assert_eq!(
            t.render(&[user("Hi")]),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n\
             <|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
        let own = ChatMessage {
            role: Role::System,
            content: "Be brief.".into(),
        };
        assert_eq!(
            t.render(&[own, user("Hi")]),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn a_template_that_is_not_chatml_is_refused() {
        assert!(ChatMl::from_template("{{ bos_token }}[INST] {{ m }} [/INST]").is_none());
    }
}
