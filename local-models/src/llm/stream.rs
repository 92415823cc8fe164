//! Incremental detokenisation. A byte-level BPE token can hold part of a UTF-8 character, so
//! decoding tokens one at a time would produce replacement characters; instead the pending
//! tokens are decoded together and the new text is released only once it ends cleanly.

use super::GenerateError;

pub(crate) trait Decode {
    fn decode(&self, ids: &[u32]) -> Result<String, GenerateError>;
}

/// A character is at most 4 bytes, so a replacement char still at the end after this many
/// pending tokens is in the model's output, not a character split across tokens.
const MAX_PENDING: usize = 4;

#[derive(Debug, Default)]
pub(crate) struct TextStream {
    tokens: Vec<u32>,
    /// Start of the window that is re-decoded each time: decoding from an earlier token keeps
    /// decoders that treat a sequence's first token specially (a leading space) consistent.
    prev: usize,
    /// Where the tokens not yet released as text begin.
    current: usize,
}

impl TextStream {
    pub(crate) fn push(
        &mut self,
        id: u32,
        decoder: &impl Decode,
    ) -> Result<Option<String>, GenerateError> {
        self.tokens.push(id);
        let released = decoder.decode(&self.tokens[self.prev..self.current])?;
        let all = decoder.decode(&self.tokens[self.prev..])?;
        let pending = self.tokens.len() - self.current;
        if all.ends_with('\u{FFFD}') && pending < MAX_PENDING {
            return Ok(None);
        }
        let Some(new) = all.get(released.len()..) else {
            // The decoder changed text it had already released (it should not for byte-level
            // BPE); restart the window rather than emit something inconsistent.
            self.prev = self.current;
            return self.release_from(self.prev, decoder);
        };
        let new = new.to_string();
        self.prev = self.current;
        self.current = self.tokens.len();
        Ok((!new.is_empty()).then_some(new))
    }

    /// Whatever is still pending when generation ends, replacement chars and all.
    pub(crate) fn finish(
        &mut self,
        decoder: &impl Decode,
    ) -> Result<Option<String>, GenerateError> {
        let released = decoder.decode(&self.tokens[self.prev..self.current])?;
        let all = decoder.decode(&self.tokens[self.prev..])?;
        self.prev = self.tokens.len();
        self.current = self.tokens.len();
        let new = all.get(released.len()..).unwrap_or_default().to_string();
        Ok((!new.is_empty()).then_some(new))
    }

    fn release_from(
        &mut self,
        start: usize,
        decoder: &impl Decode,
    ) -> Result<Option<String>, GenerateError> {
        let text = decoder.decode(&self.tokens[start..])?;
        self.current = self.tokens.len();
        Ok((!text.is_empty()).then_some(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each id is one byte, decoded lossily like a byte-level BPE decoder.
    struct Bytes;
    impl Decode for Bytes {
        fn decode(&self, ids: &[u32]) -> Result<String, GenerateError> {
            let bytes: Vec<u8> = ids.iter().map(|&i| i as u8).collect();
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }
    }

    fn stream(bytes: &[u8]) -> Vec<String> {
        let mut s = TextStream::default();
        let mut out = Vec::new();
        for &b in bytes {
            out.extend(s.push(u32::from(b), &Bytes).unwrap());
        }
        out.extend(s.finish(&Bytes).unwrap());
        out
    }

    #[test]
    fn ascii_is_released_token_by_token() {
        assert_eq!(stream(b"ab"), ["a", "b"]);
    }

    #[test]
    fn a_character_split_across_tokens_is_released_whole() {
        let text = "é🙂x";
        assert_eq!(stream(text.as_bytes()), ["é", "🙂", "x"]);
    }

    #[test]
    fn invalid_bytes_are_released_eventually() {
        let out = stream(&[0xff, 0xff, 0xff, 0xff, b'a']);
        assert_eq!(out.concat(), "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}a");
    }

    #[test]
    fn a_truncated_character_at_the_end_is_flushed() {
        assert_eq!(stream(&[b'a', 0xe6, 0x97]), ["a", "\u{FFFD}"]);
    }
}
