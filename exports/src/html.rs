//! A document's Markdown as HTML: a sanitised fragment for the web app, with its recording
//! references (`[03:07]`) linked to that moment, and a standalone page around it for the
//! HTML download.
//!
//! The Markdown comes from an LLM that read a transcript, so it may hold anything a speaker
//! said, markup included. Raw HTML in it is shown as text, never interpreted, and `ammonia`
//! cleans the result in case anything else slips through.

use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, TextMergeStream};

use crate::timestamps;

/// `markdown` as a sanitised HTML fragment, each recording reference a link to
/// `link_for_second(its second)` with class `timestamp`.
pub fn render(markdown: &str, link_for_second: impl Fn(u64) -> String) -> String {
    let events = Parser::new_ext(markdown, options()).map(html_as_text);
    // The parser splits text at brackets (`[`, `03:07`, `]`), so a reference is whole only
    // once adjacent text events are merged.
    let events = TextMergeStream::new(events);
    let events = link_timestamps(events, &link_for_second);
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    SANITISER.clean(&html).to_string()
}

/// A complete HTML5 document around a fragment from [`render`].
pub fn page(title: &str, body_html: &str) -> String {
    format!(
        "<!doctype html>\n\
         <html>\n\
         <head>\n\
         <meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n\
         <style>\n{STYLE}</style>\n\
         </head>\n\
         <body>\n\
         <main>\n{body_html}\n</main>\n\
         </body>\n\
         </html>\n",
        title = escape(title),
    )
}

const STYLE: &str = "\
body { margin: 0; padding: 2rem 1rem; font: 1rem/1.6 system-ui, -apple-system, \"Segoe UI\", sans-serif; color: #1f2328; background: #fff; }
main { max-width: 46rem; margin: 0 auto; }
h1, h2, h3, h4 { line-height: 1.25; margin: 1.6em 0 0.6em; }
h1 { font-size: 2rem; margin-top: 0; }
a { color: #0b5cad; }
a.timestamp { font-variant-numeric: tabular-nums; text-decoration: none; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9em; }
code { background: #f3f4f6; padding: 0.1em 0.3em; border-radius: 3px; }
pre { background: #f3f4f6; padding: 0.8rem 1rem; overflow-x: auto; border-radius: 6px; }
pre code { background: none; padding: 0; }
blockquote { margin: 1em 0; padding: 0 1em; color: #57606a; border-left: 0.25em solid #d0d7de; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #d0d7de; padding: 0.3em 0.7em; text-align: left; }
";

/// The parser options every export shares, so the HTML and the DOCX read a document alike.
pub(crate) fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH
}

/// Raw HTML becomes text the writer escapes, so a transcript line such as
/// `<script>x</script>` stays readable; an HTML block becomes a paragraph of that text.
fn html_as_text(event: Event<'_>) -> Event<'_> {
    match event {
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        Event::Start(Tag::HtmlBlock) => Event::Start(Tag::Paragraph),
        Event::End(TagEnd::HtmlBlock) => Event::End(TagEnd::Paragraph),
        event => event,
    }
}

/// Splits text events around recording references and wraps each in a link.
///
/// The link is written as inline HTML rather than `Tag::Link` events because
/// pulldown-cmark's writer has no way to give a link a class. That is safe here: every
/// inline HTML event of the document itself was turned into text before this point, so
/// the only markup is ours, and the sanitiser still checks it (a `javascript:` URL from
/// `link_for_second` loses its `href`). Text inside links (no nested links), images (it
/// is their alt text) and code blocks is left alone; code spans are `Event::Code`, never
/// text.
fn link_timestamps<'a>(
    events: impl Iterator<Item = Event<'a>>,
    link_for_second: &impl Fn(u64) -> String,
) -> impl Iterator<Item = Event<'a>> {
    let mut inside_link_image_or_code = 0usize;
    events.flat_map(move |event| {
        match &event {
            Event::Start(Tag::Link { .. } | Tag::Image { .. } | Tag::CodeBlock(_)) => {
                inside_link_image_or_code += 1;
            }
            Event::End(TagEnd::Link | TagEnd::Image | TagEnd::CodeBlock) => {
                inside_link_image_or_code -= 1;
            }
            _ => {}
        }
        match event {
            Event::Text(text) if inside_link_image_or_code == 0 => {
                split_text(text, link_for_second)
            }
            event => vec![event],
        }
    })
}

fn split_text<'a>(text: CowStr<'a>, link_for_second: &impl Fn(u64) -> String) -> Vec<Event<'a>> {
    let found = timestamps::find(&text);
    if found.is_empty() {
        return vec![Event::Text(text)];
    }
    let mut events = Vec::with_capacity(found.len() * 4 + 1);
    let mut at = 0;
    for (range, second) in found {
        if range.start > at {
            events.push(Event::Text(text[at..range.start].to_owned().into()));
        }
        let open = format!(
            "<a href=\"{}\" class=\"timestamp\">",
            escape(&link_for_second(second))
        );
        events.push(Event::InlineHtml(open.into()));
        events.push(Event::Text(text[range.clone()].to_owned().into()));
        events.push(Event::InlineHtml("</a>".into()));
        at = range.end;
    }
    if at < text.len() {
        events.push(Event::Text(text[at..].to_owned().into()));
    }
    events
}

/// ammonia's default allowlist (no scripts, styles, event handlers or `javascript:`
/// URLs; links get `rel="noopener noreferrer"`), plus the class of our timestamp links,
/// less images: an exported document opened later must not fetch anything (a Markdown
/// image is a tracking pixel as easily as a picture).
static SANITISER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder.add_allowed_classes("a", &["timestamp"]);
    builder.rm_tags(&["img"]);
    builder
});

/// Escapes text for an HTML element or a double- or single-quoted attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(second: u64) -> String {
        format!("https://app.example/r/42?t={second}")
    }

    #[test]
    fn renders_headings_lists_tables_and_strikethrough() {
        let html = render(
            "# Weekly sync\n\n## Decisions\n\n- one\n- **two**\n\n1. first\n2. second\n\n\
             | who | what |\n|---|---|\n| Alice | ~~old~~ new |\n",
            link,
        );
        for part in [
            "<h1>Weekly sync</h1>",
            "<h2>Decisions</h2>",
            "<ul>",
            "<li><strong>two</strong></li>",
            "<ol>",
            "<li>first</li>",
            "<table>",
            "<th>who</th>",
            "<td>Alice</td>",
            "<del>old</del>",
        ] {
            assert!(html.contains(part), "{part} missing from {html}");
        }
    }

    #[test]
    fn timestamps_link_to_their_second() {
        let html = render("Budget at [03:07], wrap-up at [1:02:03].", link);
        assert!(
            html.contains(
                "<a href=\"https://app.example/r/42?t=187\" class=\"timestamp\" \
                 rel=\"noopener noreferrer\">[03:07]</a>"
            ),
            "{html}"
        );
        assert!(html.contains("?t=3723\" class=\"timestamp\""), "{html}");
        assert!(html.starts_with("<p>Budget at <a"), "{html}");
        assert!(html.contains("</a>, wrap-up at <a"), "{html}");
    }

    #[test]
    fn timestamps_in_code_links_and_invalid_ones_stay_text() {
        let html = render(
            "`[03:07]` and [04:00](https://x.example/) and [99:99]\n\n```\n[05:00]\n```\n",
            link,
        );
        assert!(!html.contains("timestamp"), "{html}");
        assert!(html.contains("<code>[03:07]</code>"), "{html}");
        assert!(
            html.contains("<a href=\"https://x.example/\" rel=\"noopener noreferrer\">04:00</a>"),
            "{html}"
        );
        assert!(html.contains("[99:99]"), "{html}");
        assert!(html.contains("[05:00]\n</code></pre>"), "{html}");
    }

    #[test]
    fn raw_html_stays_text() {
        let html = render(
            "<script>alert(1)</script>\n\nSaid <img src=x onerror=alert(1)> at [00:05]\n",
            link,
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
        assert!(html.contains("class=\"timestamp\""), "{html}");
    }

    #[test]
    fn javascript_urls_do_not_survive() {
        let html = render(
            "[x](javascript:alert(1)) and [y](JavaScript:alert(2)) [00:01]",
            |_| "javascript:alert(3)".to_owned(),
        );
        assert!(!html.to_ascii_lowercase().contains("javascript:"), "{html}");
        assert!(html.contains(">x</a>"), "{html}");
    }

    #[test]
    fn page_is_a_document_with_an_escaped_title() {
        let page = page("Q&A <script>alert(1)</script> \"x\"", "<p>body</p>");
        assert!(page.starts_with("<!doctype html>\n"));
        assert!(page.contains("<meta charset=\"utf-8\">"));
        assert!(page.contains(
            "<title>Q&amp;A &lt;script&gt;alert(1)&lt;/script&gt; &quot;x&quot;</title>"
        ));
        assert!(!page.contains("<script"));
        assert!(page.contains("<style>"));
        assert!(page.contains("<main>\n<p>body</p>\n</main>"));
        assert!(page.trim_end().ends_with("</html>"));
    }

    #[test]
    fn images_are_not_fetched_by_an_exported_page() {
        let html = render("Look ![pixel](https://tracker.example/p.gif) here", |_| {
            String::new()
        });
        assert!(
            !html.contains("<img") && !html.contains("tracker.example"),
            "{html}"
        );
    }
}
