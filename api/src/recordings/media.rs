//! What may be uploaded, under which name, in how many parts.

/// Allowed content types and the extension the server gives the stored source.
pub const ALLOWED: &[(&str, &str)] = &[
    ("video/webm", "webm"),
    ("video/mp4", "mp4"),
    ("video/quicktime", "mov"),
    ("video/x-matroska", "mkv"),
    ("video/mpeg", "mpeg"),
    ("audio/webm", "webm"),
    ("audio/mpeg", "mp3"),
    ("audio/wav", "wav"),
    ("audio/x-wav", "wav"),
    ("audio/ogg", "ogg"),
    ("audio/flac", "flac"),
    ("audio/mp4", "m4a"),
    ("audio/x-m4a", "m4a"),
];

/// The extension for `content_type` (parameters such as `;codecs=opus` ignored), if allowed.
pub fn extension(content_type: &str) -> Option<&'static str> {
    let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
    ALLOWED
        .iter()
        .find(|(t, _)| *t == essence)
        .map(|(_, ext)| *ext)
}

pub fn allowed_list() -> String {
    ALLOWED
        .iter()
        .map(|(t, _)| *t)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The file's own name: the last path segment, without control characters, at most 255
/// characters. `None` when nothing usable is left. Only ever displayed; never a storage key.
pub fn sanitize_filename(raw: &str) -> Option<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    let clean = clean.trim().to_owned();
    (!clean.is_empty() && clean != "." && clean != "..").then_some(clean)
}

pub const MAX_PARTS: u64 = 10_000;
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
const MIB: u64 = 1024 * 1024;

/// Part size and count for `size` bytes: the configured size, grown (in whole MiB) when the
/// file would otherwise need more than 10,000 parts. A file smaller than one part is one part.
pub fn plan(size: u64, configured: u64) -> (u64, u32) {
    let needed = size.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
    let part_size = configured.max(needed).min(MAX_PART_SIZE);
    let count = size.div_ceil(part_size).max(1);
    (part_size, count as u32)
}

/// The size part `n` (1-based) must have.
pub fn expected_part_size(size: u64, part_size: u64, count: u32, n: u32) -> u64 {
    if n < count {
        part_size
    } else {
        size - part_size * u64::from(count - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_fit_ten_thousand_parts() {
        assert_eq!(plan(1, 8 * MIB), (8 * MIB, 1));
        assert_eq!(plan(50 * MIB, 8 * MIB), (8 * MIB, 7));
        assert_eq!(plan(8 * MIB, 8 * MIB), (8 * MIB, 1));
        let (size, count) = plan(200 * 1024 * MIB, 8 * MIB);
        assert!(count <= 10_000 && size % MIB == 0, "{size} x {count}");
        assert_eq!(expected_part_size(50 * MIB, 8 * MIB, 7, 7), 2 * MIB);
    }

    #[test]
    fn filenames_lose_paths_and_control_characters() {
        assert_eq!(
            sanitize_filename("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            sanitize_filename("C:\\videos\\talk.webm").as_deref(),
            Some("talk.webm")
        );
        assert_eq!(
            sanitize_filename("a\u{0}b\nc.mp4").as_deref(),
            Some("abc.mp4")
        );
        assert_eq!(sanitize_filename("dir/"), None);
        assert_eq!(extension("video/webm;codecs=vp9,opus"), Some("webm"));
        assert_eq!(extension("application/pdf"), None);
    }
}
