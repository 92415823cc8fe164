//! Names for exported files: a document's title from its Markdown, and a file name from a
//! title that every file system and `Content-Disposition` header accepts as it is.

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};

/// The text of the first level-1 heading, inline markup dropped (`# The *Q3* plan` →
/// `The Q3 plan`); `None` when there is none or it is blank.
pub fn markdown_title(markdown: &str) -> Option<String> {
    let mut title: Option<String> = None;
    for event in Parser::new_ext(markdown, crate::html::options()) {
        match (&mut title, event) {
            (
                None,
                Event::Start(Tag::Heading {
                    level: HeadingLevel::H1,
                    ..
                }),
            ) => {
                title = Some(String::new());
            }
            (Some(title), Event::Text(text) | Event::Code(text)) => title.push_str(&text),
            (Some(title), Event::SoftBreak | Event::HardBreak) => title.push(' '),
            (Some(title), Event::End(TagEnd::Heading(HeadingLevel::H1))) => {
                let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
                return (!title.is_empty()).then_some(title);
            }
            _ => {}
        }
    }
    None
}

const MAX_STEM: usize = 80;
const FALLBACK: &str = "document";

/// `title` as an ASCII file name with extension `ext`: letters, digits, `-` and `_` kept,
/// spaces and punctuation turned into `-`, runs of separators collapsed, at most 80
/// characters before the extension, and `document` when nothing is left.
pub fn filename(title: &str, ext: &str) -> String {
    let mut stem = String::with_capacity(title.len().min(MAX_STEM));
    for c in title.chars() {
        let c = match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' => c,
            // Letters of other scripts are dropped rather than made separators, so an
            // accented word stays one word (`Café` → `Caf`, not `Caf-`).
            c if !c.is_ascii() && c.is_alphanumeric() => continue,
            _ => '-',
        };
        if matches!(c, '-' | '_') && (stem.is_empty() || stem.ends_with(['-', '_'])) {
            continue;
        }
        stem.push(c);
    }
    stem.truncate(MAX_STEM);
    let mut stem = stem.trim_end_matches(['-', '_']).to_owned();
    if stem.is_empty() {
        stem = FALLBACK.to_owned();
    }
    // Windows refuses these names whatever their extension.
    let reserved = ["CON", "PRN", "AUX", "NUL"]
        .iter()
        .any(|r| stem.eq_ignore_ascii_case(r))
        || (stem.len() == 4
            && ["COM", "LPT"]
                .iter()
                .any(|r| stem[..3].eq_ignore_ascii_case(r))
            && stem.as_bytes()[3].is_ascii_digit());
    if reserved {
        stem.push_str("-document");
    }
    let ext: String = ext.chars().filter(char::is_ascii_alphanumeric).collect();
    if ext.is_empty() {
        stem
    } else {
        format!("{stem}.{ext}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_is_the_first_h1() {
        assert_eq!(
            markdown_title("Intro\n\n## Not this\n\n# The *Q3* `plan`\n\n# Later").as_deref(),
            Some("The Q3 plan")
        );
        assert_eq!(
            markdown_title("Setext title\n===\n").as_deref(),
            Some("Setext title")
        );
        assert_eq!(markdown_title("## Only h2\n\ntext"), None);
        assert_eq!(markdown_title("#   \n\n# Real"), None);
        assert_eq!(markdown_title("```\n# not a heading\n```"), None);
    }

    #[test]
    fn filenames_are_safe_ascii() {
        assert_eq!(filename("Weekly sync", "docx"), "Weekly-sync.docx");
        assert_eq!(filename("  Q3 / Q4 -- review!! ", "md"), "Q3-Q4-review.md");
        assert_eq!(filename("snake__case  name", "srt"), "snake_case-name.srt");
        assert_eq!(filename("Café über", ".vtt"), "Caf-ber.vtt");
        assert_eq!(filename("../../etc/passwd", "txt"), "etc-passwd.txt");
        assert_eq!(filename("日本語", "html"), "document.html");
        assert_eq!(filename("", "txt"), "document.txt");
        assert_eq!(filename("con", "txt"), "con-document.txt");
        assert_eq!(filename("COM1", "txt"), "COM1-document.txt");
        assert_eq!(filename("Title", ""), "Title");
    }

    #[test]
    fn filenames_stop_at_80_characters() {
        let long = "word ".repeat(40);
        let name = filename(&long, "pdf");
        let stem = name.strip_suffix(".pdf").unwrap();
        assert!(stem.len() <= 80, "{stem}");
        assert!(!stem.ends_with('-'));
        assert!(stem.starts_with("word-word"));
        assert_eq!(
            filename(&"x".repeat(200), "txt"),
            format!("{}.txt", "x".repeat(80))
        );
    }
}
