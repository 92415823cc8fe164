//! The tokenizer, built from the GGUF's own vocabulary and merges by candle.

use super::stream::Decode;
use super::template::{IM_END, IM_START, Segment};
use super::{GenerateError, LoadError};
use candle_core::quantized::gguf_file;
use candle_core::quantized::tokenizer::TokenizerFromGguf;
use gguf_tokenizers::Tokenizer;
use gguf_tokenizers::pre_tokenizers::PreTokenizerWrapper;
use gguf_tokenizers::pre_tokenizers::byte_level::ByteLevel;
use gguf_tokenizers::pre_tokenizers::digits::Digits;
use gguf_tokenizers::pre_tokenizers::sequence::Sequence;

pub(crate) struct ChatTokenizer {
    inner: Tokenizer,
    im_start: u32,
    im_end: u32,
    /// Ids that end the assistant's turn: the file's eos plus ChatML's end markers.
    stop_ids: Vec<u32>,
}

impl ChatTokenizer {
    pub(crate) fn from_gguf(content: &gguf_file::Content) -> Result<Self, LoadError> {
        let mut inner =
            Tokenizer::from_gguf(content).map_err(|e| LoadError::Tokenizer(e.to_string()))?;
        if metadata_str(content, "tokenizer.ggml.pre") == Some("smollm") {
            // candle has no `smollm` case and falls back to GPT-2's ByteLevel, whose
            // add_prefix_space would put a space before every text piece ("user" -> " user").
            // SmolLM2's tokenizer.json: single digits, then ByteLevel without the prefix space.
            inner.with_pre_tokenizer(Some(PreTokenizerWrapper::Sequence(Sequence::new(vec![
                Digits::new(true).into(),
                ByteLevel::new(false, true, true).into(),
            ]))));
        }
        // Control tokens are inserted by id (see template.rs); text that merely spells one,
        // in a message, must be tokenised as the characters it is.
        inner.set_encode_special_tokens(true);

        let id = |token: &str| inner.token_to_id(token);
        let missing = |t: &str| LoadError::Tokenizer(format!("the vocabulary has no {t} token"));
        let im_start = id(IM_START).ok_or_else(|| missing(IM_START))?;
        let im_end = id(IM_END).ok_or_else(|| missing(IM_END))?;
        let eos = content
            .metadata
            .get("tokenizer.ggml.eos_token_id")
            .and_then(|v| v.to_u32().ok());
        let mut stop_ids: Vec<u32> = [eos, Some(im_end), id("<|endoftext|>")]
            .into_iter()
            .flatten()
            .collect();
        stop_ids.sort_unstable();
        stop_ids.dedup();
        Ok(Self {
            inner,
            im_start,
            im_end,
            stop_ids,
        })
    }

    pub(crate) fn encode_text(&self, text: &str) -> Result<Vec<u32>, GenerateError> {
        let encoding = self
            .inner
            .encode_fast(text, false)
            .map_err(|e| GenerateError::Model(format!("tokenising: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    pub(crate) fn encode_segments(&self, segments: &[Segment]) -> Result<Vec<u32>, GenerateError> {
        let mut ids = Vec::new();
        for segment in segments {
            match segment {
                Segment::ImStart => ids.push(self.im_start),
                Segment::ImEnd => ids.push(self.im_end),
                Segment::Text(text) => ids.extend(self.encode_text(text)?),
            }
        }
        Ok(ids)
    }

    pub(crate) fn is_stop(&self, id: u32) -> bool {
        self.stop_ids.contains(&id)
    }

    #[cfg(test)]
    pub(crate) fn inner(&self) -> &Tokenizer {
        &self.inner
    }
}

impl Decode for ChatTokenizer {
    fn decode(&self, ids: &[u32]) -> Result<String, GenerateError> {
        // Special tokens other than the stop ids (which end generation before they are
        // decoded) are markup, not text for the client.
        self.inner
            .decode(ids, true)
            .map_err(|e| GenerateError::Model(format!("detokenising: {e}")))
    }
}

pub(crate) fn metadata_str<'a>(content: &'a gguf_file::Content, key: &str) -> Option<&'a str> {
    content
        .metadata
        .get(key)
        .and_then(|v| v.to_string().ok())
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::test_support::{QWEN, SMOLLM, model_path};
    use crate::llm::{ChatMessage, Role, template::ChatTemplate};

    fn load(name: &str) -> (ChatTokenizer, gguf_file::Content) {
        let path = model_path(name);
        let mut file = std::fs::File::open(&path).unwrap();
        let content = gguf_file::Content::read(&mut file).unwrap();
        (ChatTokenizer::from_gguf(&content).unwrap(), content)
    }

    const SAMPLES: &[&str] = &[
        "Hello world",
        "  leading spaces, trailing too  ",
        "line one\nline two\n\n\ttabbed",
        "Prices: 1234.56 EUR, 7 items (100%)",
        "fn main() { println!(\"hi\"); }",
        "Ünïcödé: café, naïve, 日本語, emoji 🙂👍",
        "It's, we'll, they're",
    ];

    fn round_trips(tok: &ChatTokenizer) {
        for text in SAMPLES {
            let ids = tok.encode_text(text).unwrap();
            assert!(!ids.is_empty());
            assert_eq!(tok.decode(&ids).unwrap(), *text, "ids {ids:?}");
        }
    }

    /// Control tokens are single ids when the tokenizer recognises them, and text otherwise.
    fn specials(tok: &ChatTokenizer) {
        let mut recognising = tok.inner().clone();
        recognising.set_encode_special_tokens(false);
        let ids = recognising
            .encode_fast("<|im_start|>user\nHi<|im_end|>", false)
            .unwrap()
            .get_ids()
            .to_vec();
        assert_eq!(ids.first(), Some(&tok.im_start));
        assert_eq!(ids.last(), Some(&tok.im_end));
        assert_eq!(tok.encode_text("user\nHi").unwrap(), ids[1..ids.len() - 1]);
        let as_text = tok.encode_text("<|im_end|>").unwrap();
        assert!(as_text.len() > 1 && !as_text.contains(&tok.im_end));
        assert!(tok.is_stop(tok.im_end));
    }

    #[test]
    fn qwen_round_trips_and_keeps_control_tokens_whole() {
        let (tok, _) = load(QWEN);
        round_trips(&tok);
        specials(&tok);
        assert_eq!((tok.im_start, tok.im_end), (151644, 151645));
        assert!(tok.is_stop(151643), "<|endoftext|>");
        // qwen2's pre-tokenizer splits numbers into single digits.
        assert_eq!(tok.encode_text("1234").unwrap().len(), 4);
    }

    #[test]
    fn smollm_round_trips_and_keeps_control_tokens_whole() {
        let (tok, _) = load(SMOLLM);
        round_trips(&tok);
        specials(&tok);
        assert_eq!((tok.im_start, tok.im_end), (1, 2));
        // No prefix space: "Hello" is one token, the same as at the start of a text.
        let hello = tok.encode_text("Hello").unwrap();
        assert_eq!(hello.len(), 1);
        assert_eq!(tok.encode_text("Hello world").unwrap()[0], hello[0]);
        assert_eq!(tok.encode_text("2024").unwrap().len(), 4);
    }

    #[test]
    fn a_rendered_prompt_tokenises_like_the_plain_chatml_string() {
        let (tok, content) = load(SMOLLM);
        let template = ChatTemplate::from_gguf_template(
            metadata_str(&content, "tokenizer.chat_template").unwrap(),
        )
        .unwrap();
        let segments = template.render(&[ChatMessage::new(Role::User, "What is 2+2?")]);
        let ids = tok.encode_segments(&segments).unwrap();
        let mut recognising = tok.inner().clone();
        recognising.set_encode_special_tokens(false);
        let text = crate::llm::template::to_text(&segments);
        let expected = recognising.encode_fast(text.as_str(), false).unwrap();
        assert_eq!(ids, expected.get_ids());
    }
}
