//! Checking what the LLM wrote. Its answer is untrusted too: a transcript can talk a model
//! into anything, so images, raw HTML and links to other hosts are stripped from every
//! answer, and a document without the required structure, or citing moments the recording
//! does not have, is refused (the activity fails retryably and the model tries again).

use super::chunking::timestamp;

/// Removes images, raw HTML, and links or bare URLs that point anywhere but inside the
/// document (`#anchor`). Link text is kept; the rest of the Markdown is left alone.
pub fn sanitize(markdown: &str) -> String {
    let text = strip_links(markdown);
    let text = strip_html(&text);
    let text = strip_urls(&text);
    text.lines()
        // Reference-style link definitions: `[label]: https://…`.
        .filter(|l| !is_link_definition(l))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

fn is_link_definition(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with('[') && l.find("]:").is_some_and(|i| !l[1..i].contains(']'))
}

/// `![alt](target)` becomes nothing, `[text](target)` becomes `text` unless the target is
/// an in-document anchor.
fn strip_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some((label, target, end)) = link_at(&rest[open..]) else {
            out.push_str(&rest[..=open]);
            rest = &rest[open + 1..];
            continue;
        };
        let image = rest[..open].ends_with('!') && !rest[..open].ends_with("\\!");
        out.push_str(if image {
            &rest[..open - 1]
        } else {
            &rest[..open]
        });
        if !image {
            if target.trim_start().starts_with('#') {
                out.push_str(&rest[open..open + end]);
            } else {
                out.push_str(label);
            }
        }
        rest = &rest[open + end..];
    }
    out.push_str(rest);
    out
}

/// At `[`: the label, the target and the length of `[label](target)`, if that is what
/// starts here.
fn link_at(s: &str) -> Option<(&str, &str, usize)> {
    let close = s.find(']')?;
    let label = &s[1..close];
    if label.contains('[') || label.contains('\n') {
        return None;
    }
    let after = &s[close + 1..];
    let target_len = after.strip_prefix('(')?.find(')')?;
    let target = &after[1..1 + target_len];
    (!target.contains('\n')).then_some((label, target, close + 1 + target_len + 2))
}

/// Tags (`<b>`, `</div>`, `<img …>`), comments and autolinks (`<https://…>`): anything
/// from `<` followed by a letter, `/` or `!` to the next `>` on the same line.
fn strip_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        let starts_tag = tail[1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!');
        match tail.find(['>', '\n']) {
            Some(end) if starts_tag && tail.as_bytes()[end] == b'>' => rest = &tail[end + 1..],
            _ => {
                out.push('<');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Bare URLs, which Markdown renderers turn into links by themselves.
fn strip_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = ["https://", "http://", "www.", "ftp://"]
            .iter()
            .filter_map(|p| find_ci(rest, p))
            .min();
        let Some(at) = next else { break };
        out.push_str(&rest[..at]);
        out.push_str("(link removed)");
        let end = rest[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | ']' | '>' | '"' | '\''))
            .map_or(rest.len(), |e| at + e);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack.to_ascii_lowercase().find(needle)
}

/// The document inside a model's answer: without a ```markdown fence around it, and from
/// its `# Title` line on (models like to open with "Here is the document:").
pub fn unwrap_answer(answer: &str) -> String {
    let lines: Vec<&str> = answer
        .lines()
        .filter(|l| !l.trim_start().starts_with("```"))
        .collect();
    let start = lines.iter().position(|l| l.starts_with("# ")).unwrap_or(0);
    lines[start..].join("\n")
}

/// What a document must contain.
pub struct Requirements<'a> {
    /// `##` sections besides Summary, Key points and Action items (the org's template);
    /// when empty, at least one section of the model's choosing.
    pub sections: &'a [String],
    pub duration_ms: i64,
}

pub const FIXED_SECTIONS: [&str; 3] = ["Summary", "Key points", "Action items"];

/// The title, if `markdown` (already sanitised) is a valid document; otherwise every
/// problem found, for the activity's failure message.
pub fn validate(markdown: &str, req: &Requirements<'_>) -> Result<String, Vec<String>> {
    let mut problems = Vec::new();
    let first = markdown
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let title = first.strip_prefix("# ").map(str::trim).unwrap_or("");
    if title.is_empty() {
        problems.push("it does not start with a `# Title` line".to_owned());
    } else if title.chars().count() > 200 {
        problems.push("its title is longer than 200 characters".to_owned());
    }
    let headings: Vec<String> = markdown
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| h.trim().to_lowercase())
        .collect();
    let required = FIXED_SECTIONS
        .iter()
        .copied()
        .chain(req.sections.iter().map(String::as_str));
    for section in required {
        if !headings.contains(&section.trim().to_lowercase()) {
            problems.push(format!("it lacks the `## {section}` section"));
        }
    }
    if req.sections.is_empty() && headings.len() <= FIXED_SECTIONS.len() {
        problems.push("it has no section besides Summary, Key points and Action items".to_owned());
    }
    let stamps = timestamps(markdown);
    if stamps.is_empty() {
        problems.push("it cites no moment of the recording as [mm:ss]".to_owned());
    }
    // Timestamps are rounded down to the second; anything within the last second is fine.
    let limit = req.duration_ms / 1000;
    for (raw, secs) in stamps.iter().filter(|(_, secs)| *secs > limit) {
        problems.push(format!(
            "it cites {raw} ({secs} s), past the recording's end {}",
            timestamp(req.duration_ms)
        ));
    }
    if problems.is_empty() {
        Ok(title.to_owned())
    } else {
        Err(problems)
    }
}

/// Every `[m:ss]`, `[mm:ss]` or `[h:mm:ss]` in `text`, with its value in seconds.
pub fn timestamps(text: &str) -> Vec<(String, i64)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let tail = &rest[open + 1..];
        if let Some(close) = tail.find(']')
            && let Some(secs) = parse_timestamp(&tail[..close])
        {
            found.push((format!("[{}]", &tail[..close]), secs));
        }
        rest = tail;
    }
    found
}

fn parse_timestamp(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let n: Vec<i64> = parts.iter().map(|p| p.parse().unwrap_or(0)).collect();
    if n[1..].iter().any(|&v| v >= 60) {
        return None;
    }
    Some(n.iter().fold(0, |acc, v| acc * 60 + v))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# Weekly sync\n\n## Summary\nShipped [00:05].\n\n## Uploads\n- Resume [01:10]\n\n## Key points\n- a\n\n## Action items\n- b\n";

    fn req(duration_ms: i64) -> Requirements<'static> {
        Requirements {
            sections: &[],
            duration_ms,
        }
    }

    #[test]
    fn a_complete_document_passes() {
        assert_eq!(validate(DOC, &req(90_000)), Ok("Weekly sync".to_owned()));
    }

    #[test]
    fn missing_sections_and_late_timestamps_are_named() {
        let doc = DOC
            .replace("## Key points", "## Points")
            .replace("[01:10]", "[59:00]");
        let problems = validate(&doc, &req(90_000)).unwrap_err();
        assert!(
            problems.iter().any(|p| p.contains("## Key points")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("[59:00]")),
            "{problems:?}"
        );
        assert!(validate("just text", &req(1000)).is_err());
    }

    #[test]
    fn images_html_and_outside_links_are_stripped() {
        let dirty = "See ![x](https://evil.example/a.png) and [docs](http://evil.example/p) \
                     or <img src=\"https://evil.example/b.png\"> <b>bold</b> \
                     www.evil.example/c and [00:05](#t=5) and a < b\n[ref]: https://evil.example/d\nend";
        let clean = sanitize(dirty);
        assert!(!clean.contains("evil.example"), "{clean}");
        assert!(!clean.contains("!["), "{clean}");
        assert!(!clean.contains("<img") && !clean.contains("<b>"), "{clean}");
        assert!(clean.contains("docs") && clean.contains("bold"), "{clean}");
        assert!(
            clean.contains("[00:05](#t=5)") && clean.contains("a < b"),
            "{clean}"
        );
        assert!(clean.ends_with("end"));
        let escaped = sanitize("!\\[logo](https://evil.example/x.png)");
        assert!(!escaped.contains("evil.example"), "{escaped}");
    }

    #[test]
    fn timestamps_are_parsed_in_both_forms() {
        let found = timestamps("[00:05] x [1:02:03] [link] [99] [12:345]");
        assert_eq!(
            found,
            vec![("[00:05]".into(), 5), ("[1:02:03]".into(), 3723)]
        );
    }
}
