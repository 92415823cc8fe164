//! Tokens to text, a piece at a time. A character can span tokens (byte-level BPE splits
//! UTF-8), so a piece is released only once it decodes without a replacement character;
//! decoding restarts from the last released token, keeping each step short.

use tokenizers::Tokenizer;

use super::GenerateError;

#[derive(Default)]
pub struct Detokenizer {
    tokens: Vec<u32>,
    /// Text from `prev` to `current` has been released.
    prev: usize,
    current: usize,
}

fn decode(tokenizer: &Tokenizer, ids: &[u32]) -> Result<String, GenerateError> {
    tokenizer
        .decode(ids, true)
        .map_err(|e| GenerateError::Model(format!("decoding tokens: {e}")))
}

impl Detokenizer {
    pub fn push(&mut self, tokenizer: &Tokenizer, id: u32) -> Result<String, GenerateError> {
        let released = decode(tokenizer, &self.tokens[self.prev..self.current])?;
        self.tokens.push(id);
        let text = decode(tokenizer, &self.tokens[self.prev..])?;
        if text.len() > released.len() && !text.ends_with('\u{FFFD}') {
            if let Some(new) = text.get(released.len()..) {
                self.prev = self.current;
                self.current = self.tokens.len();
                return Ok(new.to_owned());
            }
        }
        Ok(String::new())
    }

    /// Whatever is still held back at the end.
    pub fn finish(&mut self, tokenizer: &Tokenizer) -> Result<String, GenerateError> {
        let released = decode(tokenizer, &self.tokens[self.prev..self.current])?;
        let text = decode(tokenizer, &self.tokens[self.prev..])?;
        self.prev = self.tokens.len();
        self.current = self.tokens.len();
        Ok(text.get(released.len()..).unwrap_or_default().to_owned())
    }
}
