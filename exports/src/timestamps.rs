//! The `[mm:ss]` / `[h:mm:ss]` references a document makes to moments of its recording:
//! finding them in text (the HTML export turns them into links) and writing them (the text
//! transcript and the HTML link text use the same form, so a reader sees one notation).

use std::ops::Range;

/// Every valid reference in `text`: its byte range, brackets included, and its second.
///
/// `[mm:ss]` takes exactly two digits each; `[h:mm:ss]` takes one or more hour digits.
/// Minutes and seconds must be below 60. A bracketed time followed by `(` is the label of a
/// Markdown inline link (`[03:07](https://…)`), which already links somewhere, so it is
/// not a reference.
pub fn find(text: &str) -> Vec<(Range<usize>, u64)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'['
            && let Some(len) = bytes[i + 1..].iter().position(|&b| b == b']')
        {
            let end = i + 1 + len + 1;
            // `[` and `]` are ASCII, so these are char boundaries.
            if let Some(seconds) = parse(&text[i + 1..end - 1])
                && bytes.get(end) != Some(&b'(')
            {
                found.push((i..end, seconds));
                i = end;
                continue;
            }
        }
        i += 1;
    }
    found
}

/// The reference for `seconds`: `[mm:ss]` below an hour, `[h:mm:ss]` from one hour on.
pub fn format(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h == 0 {
        format!("[{m:02}:{s:02}]")
    } else {
        format!("[{h}:{m:02}:{s:02}]")
    }
}

/// The seconds of the inside of a reference (`03:07`, `1:02:03`), if it is one.
fn parse(inner: &str) -> Option<u64> {
    let parts: Vec<&str> = inner.split(':').collect();
    let (hours, minutes, seconds) = match parts.as_slice() {
        [m, s] => ("0", *m, *s),
        [h, m, s] if !h.is_empty() && h.bytes().all(|b| b.is_ascii_digit()) => (*h, *m, *s),
        _ => return None,
    };
    let two_digits_below_60 = |part: &str| {
        (part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse::<u64>().ok())
            .flatten()
            .filter(|&n| n < 60)
    };
    let minutes = two_digits_below_60(minutes)?;
    let seconds = two_digits_below_60(seconds)?;
    // Too many hour digits overflow instead of wrapping into a wrong second.
    hours
        .parse::<u64>()
        .ok()?
        .checked_mul(3600)?
        .checked_add(minutes * 60 + seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(text: &str) -> Vec<u64> {
        find(text).into_iter().map(|(_, s)| s).collect()
    }

    #[test]
    fn finds_both_forms_with_their_byte_ranges() {
        let text = "Intro [03:07], later [1:02:03] and [00:00].";
        let found = find(text);
        assert_eq!(found.len(), 3);
        assert_eq!((&text[found[0].0.clone()], found[0].1), ("[03:07]", 187));
        assert_eq!((&text[found[1].0.clone()], found[1].1), ("[1:02:03]", 3723));
        assert_eq!((&text[found[2].0.clone()], found[2].1), ("[00:00]", 0));
        assert_eq!(seconds("[12:00:00]"), [43_200]);
        assert_eq!(seconds("[0:59:59]"), [3599]);
    }

    #[test]
    fn rejects_what_is_not_a_reference() {
        for text in [
            "[1:2]",
            "[99:99]",
            "[ab:cd]",
            "[3:07]",
            "[03:7]",
            "[003:07]",
            "[03:60]",
            "[60:00]",
            "[1:60:00]",
            "[:03:07]",
            "[1:02:03:04]",
            "[]",
            "[03:07",
            "03:07]",
            "[ 03:07]",
            "[03:07](https://example.com)",
            "[99999999999999999999:00:00]",
        ] {
            assert!(find(text).is_empty(), "{text} matched");
        }
    }

    #[test]
    fn byte_ranges_survive_multibyte_text_and_nesting() {
        let text = "é [[03:07]] ü[1:00:00]";
        let found = find(text);
        let matched: Vec<&str> = found.iter().map(|(r, _)| &text[r.clone()]).collect();
        assert_eq!(matched, ["[03:07]", "[1:00:00]"]);
    }

    #[test]
    fn formats_minutes_then_hours() {
        assert_eq!(format(0), "[00:00]");
        assert_eq!(format(187), "[03:07]");
        assert_eq!(format(3599), "[59:59]");
        assert_eq!(format(3600), "[1:00:00]");
        assert_eq!(format(36_000 + 62), "[10:01:02]");
        for s in [0, 59, 187, 3599, 3600, 3723, 400_000] {
            assert_eq!(seconds(&format(s)), [s]);
        }
    }
}
