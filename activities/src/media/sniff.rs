//! Names the container from the file's first bytes, before symphonia sees it.
//!
//! symphonia's own probe hunts for a marker anywhere in the first MiB, so arbitrary bytes
//! usually contain an MPEG audio sync word somewhere and get handed to the MP3 demuxer.
//! Requiring the signature at offset 0 lets "not media at all" (`UnsupportedMedia`) be told
//! apart from "media, but broken" (`CorruptMedia`).

/// How many leading bytes `container` wants.
pub const HEAD_LEN: usize = 64;

const EBML_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];
const EBML_DOC_TYPE: [u8; 2] = [0x42, 0x82];

/// The container's short name, or `None` for a signature symphonia cannot read.
pub fn container(head: &[u8]) -> Option<&'static str> {
    let at = |range: std::ops::Range<usize>| head.get(range);
    if head.starts_with(&EBML_MAGIC) {
        return Some(if ebml_doc_type(head) == Some(b"webm") {
            "webm"
        } else {
            "mkv"
        });
    }
    if at(4..8) == Some(b"ftyp") {
        return Some(if at(8..12) == Some(b"qt  ") {
            "mov"
        } else {
            "mp4"
        });
    }
    if head.starts_with(b"RIFF") && at(8..12) == Some(b"WAVE") {
        return Some("wav");
    }
    if head.starts_with(b"OggS") {
        return Some("ogg");
    }
    if head.starts_with(b"fLaC") {
        return Some("flac");
    }
    // ID3v2 tags precede MPEG audio; symphonia reads past them.
    if head.starts_with(b"ID3") {
        return Some("mp3");
    }
    mpeg_audio(head)
}

/// An MPEG audio frame or ADTS header at offset 0: an 11-bit sync, then the layer bits.
fn mpeg_audio(head: &[u8]) -> Option<&'static str> {
    let (&b0, &b1) = (head.first()?, head.get(1)?);
    if b0 != 0xFF || b1 & 0xE0 != 0xE0 {
        return None;
    }
    match (b1 >> 1) & 0b11 {
        // ADTS: MPEG-4 or MPEG-2 AAC, always layer 0 and the 12-bit sync.
        0 if b1 & 0xF0 == 0xF0 => Some("aac"),
        1 => Some("mp3"),
        2 => Some("mp2"),
        3 => Some("mp1"),
        _ => None,
    }
}

/// The EBML header's DocType (`webm` or `matroska`), which sits within its first bytes.
fn ebml_doc_type(head: &[u8]) -> Option<&[u8]> {
    let at = head.windows(2).position(|w| w == EBML_DOC_TYPE)? + 2;
    // A one-byte EBML size (marker bit 0x80) is all a muxer writes for so short a string.
    let size = *head.get(at)?;
    if size & 0x80 == 0 {
        return None;
    }
    let len = usize::from(size & 0x7F);
    head.get(at + 1..at + 1 + len)
}

#[cfg(test)]
mod tests {
    use super::container;

    #[test]
    fn names_containers_by_their_signature() {
        let webm = b"\x1A\x45\xDF\xA3\x9f\x42\x86\x81\x01\x42\x82\x84webm\x42\x87";
        assert_eq!(container(webm), Some("webm"));
        let mkv = b"\x1A\x45\xDF\xA3\x9f\x42\x82\x88matroska";
        assert_eq!(container(mkv), Some("mkv"));
        assert_eq!(container(b"\0\0\0\x20ftypisom\0\0\0\0"), Some("mp4"));
        assert_eq!(container(b"RIFF\0\0\0\0WAVEfmt "), Some("wav"));
        assert_eq!(container(b"RIFF\0\0\0\0AVI LIST"), None);
        assert_eq!(container(b"\xFF\xFB\x90\x00"), Some("mp3"));
        assert_eq!(container(b"\xFF\xF1\x50\x80"), Some("aac"));
        assert_eq!(container(b"ID3\x04\0\0\0\0\0\0"), Some("mp3"));
        assert_eq!(container(b"%PDF-1.7"), None);
        assert_eq!(container(b""), None);
    }
}
