//! A document's Markdown as a Word document (`.docx`), for people who edit or file it there.
//!
//! The Markdown is walked as pulldown-cmark events and mapped onto `docx-rs`: headings onto
//! Word's own `heading 1`–`3` styles (so the navigation pane and tables of contents see
//! them), lists onto real Word numbering, inline code and code blocks onto a monospace
//! font, block quotes onto an indent, `http`, `https` and `mailto` links onto hyperlinks,
//! and tables onto tables. Raw HTML is kept as plain text, as in the HTML export.

use std::io::Cursor;

use docx_rs::{
    AbstractNumbering, AlignmentType, BreakType, Docx, DocxError, Hyperlink, HyperlinkType,
    IndentLevel, Level, LevelJc, LevelOverride, LevelText, NumberFormat, Numbering, NumberingId,
    Paragraph, Run, RunFonts, SpecialIndentType, Start, Style, StyleType, Table, TableCell,
    TableRow,
};
use pulldown_cmark::{Event, HeadingLevel, LinkType, Parser, Tag, TagEnd, TextMergeStream};

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("could not write the .docx package")]
    Docx(#[from] DocxError),
}

/// `markdown` as the bytes of a `.docx` file whose document title is `title`.
pub fn render(title: &str, markdown: &str) -> Result<Vec<u8>, ExportError> {
    let mut writer = Writer::default();
    // Merged, the parser's text pieces (it splits at brackets, among others) make one run each.
    for event in TextMergeStream::new(Parser::new_ext(markdown, crate::html::options())) {
        writer.event(event);
    }
    let mut package = writer.finish().build();
    // docx-rs has no setter for the core properties' title, but its parts are public
    // between `build` and `pack`.
    package.doc_props.core = core_properties(title).into_bytes();
    let mut bytes = Cursor::new(Vec::new());
    package.pack(&mut bytes).map_err(DocxError::from)?;
    Ok(bytes.into_inner())
}

const MONOSPACE: &str = "Courier New";
/// Twentieths of a point: half an inch per list or quote level.
const INDENT_STEP: i32 = 720;
/// Word numbers nesting levels 0 to 8.
const LEVELS: usize = 9;
// docx-rs always writes an abstract numbering 1 and an instance 1 of its own (decimal),
// so ours start at 2.
const BULLET_ABSTRACT: usize = 2;
const DECIMAL_ABSTRACT: usize = 3;
/// Every bullet list shares one numbering instance: bullets have no count to restart.
const BULLETS: usize = 2;
/// The text width of docx-rs's default page (A4, 1701-twip side margins), for table grids.
const TEXT_WIDTH: usize = 11906 - 2 * 1701;

/// The state of the walk: where the next text goes and how it looks.
#[derive(Default)]
struct Writer {
    docx: Docx,
    paragraph: Option<Paragraph>,
    /// An open hyperlink collects the runs of its text.
    link: Option<Hyperlink>,
    bold: usize,
    italic: usize,
    strike: usize,
    heading: Option<HeadingLevel>,
    quotes: usize,
    /// The numbering instance of each open list, outermost first.
    lists: Vec<usize>,
    /// An item has started but its numbered first paragraph has not been opened yet.
    item_pending: bool,
    /// Code blocks and HTML blocks are gathered whole, then written a paragraph per line.
    raw_block: Option<(RawBlock, String)>,
    /// The lines of a gathered code block are being written.
    code_lines: bool,
    table: Option<TableBuilder>,
    /// Ordered lists get instances after [`BULLETS`], each restarting its count.
    numberings: usize,
}

#[derive(Clone, Copy)]
enum RawBlock {
    Code,
    Html,
}

#[derive(Default)]
struct TableBuilder {
    rows: Vec<TableRow>,
    cells: Vec<TableCell>,
    cell: Vec<Paragraph>,
    head: bool,
    columns: usize,
}

impl Writer {
    fn event(&mut self, event: Event<'_>) {
        if let Some((_, raw)) = &mut self.raw_block {
            match event {
                Event::Text(text) | Event::Html(text) => raw.push_str(&text),
                Event::End(TagEnd::CodeBlock | TagEnd::HtmlBlock) => self.end_raw_block(),
                _ => {}
            }
            return;
        }
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.text(&text, false),
            Event::Code(text) => self.text(&text, true),
            Event::Html(html) | Event::InlineHtml(html) => self.text(&html, false),
            Event::SoftBreak => self.text(" ", false),
            Event::HardBreak => {
                let run = Run::new().add_break(BreakType::TextWrapping);
                self.run(run);
            }
            Event::Rule => {
                self.flush();
                let rule = Paragraph::new()
                    .align(AlignmentType::Center)
                    .add_run(Run::new().add_text("* * *"));
                self.push(rule);
            }
            // Not enabled in the parser options (footnotes, task lists, math).
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.flush(),
            Tag::Heading { level, .. } => {
                self.flush();
                self.heading = Some(level);
            }
            Tag::BlockQuote(_) => {
                self.flush();
                self.quotes += 1;
            }
            Tag::CodeBlock(_) => self.start_raw_block(RawBlock::Code),
            Tag::HtmlBlock => self.start_raw_block(RawBlock::Html),
            Tag::List(start) => {
                if self.item_pending {
                    // An item whose first content is a nested list still gets its marker.
                    self.open();
                }
                self.flush();
                let instance = match start {
                    None => BULLETS,
                    Some(start) => self.ordered_list(start),
                };
                self.lists.push(instance);
            }
            Tag::Item => {
                self.flush();
                self.item_pending = true;
            }
            Tag::Emphasis => self.italic += 1,
            Tag::Strong => self.bold += 1,
            Tag::Strikethrough => self.strike += 1,
            Tag::Link {
                link_type,
                dest_url,
                ..
            } => {
                let url = match link_type {
                    LinkType::Email => format!("mailto:{dest_url}"),
                    _ => dest_url.to_string(),
                };
                // Anything else (`javascript:`, relative paths) has no meaning in a file.
                let lower = url.to_ascii_lowercase();
                if ["http://", "https://", "mailto:"]
                    .iter()
                    .any(|s| lower.starts_with(s))
                {
                    self.link = Some(Hyperlink::new(url, HyperlinkType::External));
                }
            }
            Tag::Table(_) => {
                self.flush();
                self.table = Some(TableBuilder::default());
            }
            Tag::TableHead => {
                if let Some(table) = &mut self.table {
                    table.head = true;
                }
            }
            // Images keep their alt text, which arrives as text events.
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => self.flush(),
            TagEnd::Heading(_) => {
                self.flush();
                self.heading = None;
            }
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.quotes = self.quotes.saturating_sub(1);
            }
            TagEnd::List(_) => {
                self.flush();
                self.lists.pop();
            }
            TagEnd::Item => {
                if self.item_pending {
                    self.open();
                }
                self.flush();
            }
            TagEnd::Emphasis => self.italic = self.italic.saturating_sub(1),
            TagEnd::Strong => self.bold = self.bold.saturating_sub(1),
            TagEnd::Strikethrough => self.strike = self.strike.saturating_sub(1),
            TagEnd::Link => {
                if let Some(link) = self.link.take() {
                    self.open();
                    self.paragraph = self.paragraph.take().map(|p| p.add_hyperlink(link));
                }
            }
            TagEnd::TableCell => {
                self.flush();
                if let Some(table) = &mut self.table {
                    let mut cell = TableCell::new();
                    // Word needs a paragraph in every cell, even an empty one.
                    if table.cell.is_empty() {
                        table.cell.push(Paragraph::new());
                    }
                    for paragraph in table.cell.drain(..) {
                        cell = cell.add_paragraph(paragraph);
                    }
                    table.cells.push(cell);
                }
            }
            // pulldown-cmark puts the head's cells straight in the head, without a row.
            TagEnd::TableHead | TagEnd::TableRow => {
                if let Some(table) = &mut self.table {
                    table.columns = table.columns.max(table.cells.len());
                    table
                        .rows
                        .push(TableRow::new(std::mem::take(&mut table.cells)));
                    table.head = false;
                }
            }
            TagEnd::Table => {
                if let Some(table) = self.table.take() {
                    // Word wants the grid of columns, which docx-rs leaves empty.
                    let columns = table.columns.max(1);
                    let table =
                        Table::new(table.rows).set_grid(vec![TEXT_WIDTH / columns; columns]);
                    self.docx = std::mem::take(&mut self.docx).add_table(table);
                }
            }
            _ => {}
        }
    }

    fn start_raw_block(&mut self, kind: RawBlock) {
        self.flush();
        self.raw_block = Some((kind, String::new()));
    }

    fn end_raw_block(&mut self) {
        let Some((kind, raw)) = self.raw_block.take() else {
            return;
        };
        self.code_lines = matches!(kind, RawBlock::Code);
        for line in raw.strip_suffix('\n').unwrap_or(&raw).split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            match kind {
                // Kept line for line, blank lines included, as code is laid out.
                RawBlock::Code => {
                    self.open();
                    if !line.is_empty() {
                        self.text(line, true);
                    }
                }
                // A transcript line that looked like HTML reads as the text it was.
                RawBlock::Html if line.trim().is_empty() => continue,
                RawBlock::Html => self.text(line, false),
            }
            self.flush();
        }
        self.code_lines = false;
    }

    fn ordered_list(&mut self, start: u64) -> usize {
        self.numberings += 1;
        let instance = BULLETS + self.numberings;
        let level = self.lists.len().min(LEVELS - 1);
        let start = usize::try_from(start).unwrap_or(usize::MAX);
        let numbering = Numbering::new(instance, DECIMAL_ABSTRACT)
            .add_override(LevelOverride::new(level).start(start));
        self.docx = std::mem::take(&mut self.docx).add_numbering(numbering);
        instance
    }

    /// Makes sure a paragraph is open, shaped by the blocks it is in.
    fn open(&mut self) {
        if self.paragraph.is_some() {
            return;
        }
        let mut paragraph = Paragraph::new();
        if let Some(level) = self.heading {
            paragraph = paragraph.style(match level {
                HeadingLevel::H1 => "Heading1",
                HeadingLevel::H2 => "Heading2",
                _ => "Heading3",
            });
        } else if self.code_lines {
            paragraph = paragraph.style("SourceCode");
        }
        let quote_indent = INDENT_STEP * self.quotes as i32;
        if let Some(&instance) = self.lists.last() {
            let depth = self.lists.len().min(LEVELS);
            if std::mem::take(&mut self.item_pending) {
                paragraph =
                    paragraph.numbering(NumberingId::new(instance), IndentLevel::new(depth - 1));
            } else {
                // A later paragraph of an item lines up with the item's text.
                let indent = quote_indent + INDENT_STEP * depth as i32;
                paragraph = paragraph.indent(Some(indent), None, None, None);
            }
        } else if self.quotes > 0 {
            paragraph = paragraph.indent(Some(quote_indent), None, None, None);
        }
        self.paragraph = Some(paragraph);
    }

    fn text(&mut self, text: &str, code: bool) {
        let text = xml_safe(text);
        if text.is_empty() {
            return;
        }
        let mut run = Run::new().add_text(text);
        if self.bold > 0 || self.table.as_ref().is_some_and(|t| t.head) {
            run = run.bold();
        }
        if self.italic > 0 || (self.quotes > 0 && self.heading.is_none()) {
            run = run.italic();
        }
        if self.strike > 0 {
            run = run.strike();
        }
        if code {
            run = run.fonts(monospace());
        }
        if self.link.is_some() {
            run = run.color("0563C1").underline("single");
        }
        self.run(run);
    }

    fn run(&mut self, run: Run) {
        if let Some(link) = self.link.take() {
            self.link = Some(link.add_run(run));
            return;
        }
        self.open();
        self.paragraph = self.paragraph.take().map(|p| p.add_run(run));
    }

    /// Closes the open paragraph, if any, into the table cell or the document.
    fn flush(&mut self) {
        if let Some(link) = self.link.take() {
            // A link cut off by its block (never in CommonMark, but cheap to be safe).
            self.open();
            self.paragraph = self.paragraph.take().map(|p| p.add_hyperlink(link));
        }
        if let Some(paragraph) = self.paragraph.take() {
            self.push(paragraph);
        }
    }

    fn push(&mut self, paragraph: Paragraph) {
        match &mut self.table {
            Some(table) => table.cell.push(paragraph),
            None => self.docx = std::mem::take(&mut self.docx).add_paragraph(paragraph),
        }
    }

    fn finish(mut self) -> Docx {
        self.end_raw_block();
        self.flush();
        let mut docx = self.docx;
        for style in styles() {
            docx = docx.add_style(style);
        }
        docx.add_abstract_numbering(list_levels(BULLET_ABSTRACT, |level| {
            (
                NumberFormat::new("bullet"),
                ["•", "◦", "▪"][level % 3].to_owned(),
            )
        }))
        .add_abstract_numbering(list_levels(DECIMAL_ABSTRACT, |level| {
            (NumberFormat::new("decimal"), format!("%{}.", level + 1))
        }))
        .add_numbering(Numbering::new(BULLETS, BULLET_ABSTRACT))
    }
}

fn monospace() -> RunFonts {
    RunFonts::new()
        .ascii(MONOSPACE)
        .hi_ansi(MONOSPACE)
        .cs(MONOSPACE)
}

/// docx-rs starts with no styles, and Word recognises its built-in headings by these names.
fn styles() -> Vec<Style> {
    let heading = |level: usize, size: usize| {
        Style::new(format!("Heading{level}"), StyleType::Paragraph)
            .name(format!("heading {level}"))
            .q_format(true)
            .size(size)
            .bold()
            .outline_lvl(level - 1)
    };
    vec![
        // Sizes are in half points.
        heading(1, 36),
        heading(2, 30),
        heading(3, 26),
        Style::new("SourceCode", StyleType::Paragraph)
            .name("Source Code")
            .fonts(monospace())
            .size(20),
    ]
}

fn list_levels(id: usize, marker: impl Fn(usize) -> (NumberFormat, String)) -> AbstractNumbering {
    (0..LEVELS).fold(AbstractNumbering::new(id), |numbering, level| {
        let (format, text) = marker(level);
        let left = INDENT_STEP * (level as i32 + 1);
        numbering.add_level(
            Level::new(
                level,
                Start::new(1),
                format,
                LevelText::new(text),
                LevelJc::new("left"),
            )
            .indent(
                Some(left),
                Some(SpecialIndentType::Hanging(360)),
                None,
                None,
            ),
        )
    })
}

/// `docProps/core.xml` with the title: what Word shows under File › Info and uses to name a
/// new save.
fn core_properties(title: &str) -> String {
    let title = xml_safe(title)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
         <cp:coreProperties \
         xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\" \
         xmlns:dcterms=\"http://purl.org/dc/terms/\" \
         xmlns:dcmitype=\"http://purl.org/dc/dcmitype/\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
         <dc:title>{title}</dc:title>\
         <dc:creator>mediadocs</dc:creator>\
         <cp:revision>1</cp:revision>\
         </cp:coreProperties>"
    )
}

/// Drops the characters XML 1.0 cannot hold at all (most control characters), which a
/// transcript can carry and which would make Word refuse the whole file.
fn xml_safe(text: &str) -> String {
    text.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use docx_rs::{DocumentChild, ParagraphChild, RunChild, TableChild, TableRowChild};

    use super::*;

    const MARKDOWN: &str = "\
# Weekly sync

Intro with **bold decision** and *care* and `cargo test` and a [link](https://example.com/a?b=1&c=2).

## Action items

- Alice ships the *exporter*
- Bob reviews
  1. first
  2. second

<script>alert(1)</script>

### Details

> Quoted [00:05] line

```
fn main() {}

// after a blank line
```

| who | what |
|---|---|
| Alice | <b>docs</b> |

Unsafe [click](javascript:alert(1)) and \u{1}control.
";

    /// The text of each paragraph, table cells included, hyperlinks' runs included.
    fn paragraphs(bytes: &[u8]) -> Vec<(Option<String>, String)> {
        fn runs(children: &[ParagraphChild], out: &mut String) {
            for child in children {
                match child {
                    ParagraphChild::Run(run) => {
                        for c in &run.children {
                            if let RunChild::Text(t) = c {
                                out.push_str(&t.text);
                            }
                        }
                    }
                    ParagraphChild::Hyperlink(link) => runs(&link.children, out),
                    _ => {}
                }
            }
        }
        fn paragraph(p: &Paragraph) -> (Option<String>, String) {
            let mut text = String::new();
            runs(&p.children, &mut text);
            (p.property.style.as_ref().map(|s| s.val.clone()), text)
        }
        let docx = docx_rs::read_docx(bytes).expect("docx-rs reads its own output");
        let mut out = Vec::new();
        for child in &docx.document.children {
            match child {
                DocumentChild::Paragraph(p) => out.push(paragraph(p)),
                DocumentChild::Table(table) => {
                    for TableChild::TableRow(row) in &table.rows {
                        for TableRowChild::TableCell(cell) in &row.cells {
                            for c in &cell.children {
                                if let docx_rs::TableCellContent::Paragraph(p) = c {
                                    out.push(paragraph(p));
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    fn part(bytes: &[u8], name: &str) -> String {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip archive");
        let mut text = String::new();
        zip.by_name(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .read_to_string(&mut text)
            .expect("UTF-8");
        text
    }

    #[test]
    fn writes_a_docx_that_reads_back() {
        let bytes = render("Weekly sync & <notes>", MARKDOWN).expect("renders");
        assert!(bytes.starts_with(b"PK"));
        let got = paragraphs(&bytes);
        let texts: Vec<&str> = got.iter().map(|(_, t)| t.as_str()).collect();
        let has = |style: Option<&str>, text: &str| {
            got.iter().any(|(s, t)| s.as_deref() == style && t == text)
        };
        assert!(has(Some("Heading1"), "Weekly sync"), "{got:?}");
        assert!(has(Some("Heading2"), "Action items"), "{got:?}");
        assert!(has(Some("Heading3"), "Details"), "{got:?}");
        for text in [
            "Intro with bold decision and care and cargo test and a link.",
            "Alice ships the exporter",
            "Bob reviews",
            "first",
            "second",
            "<script>alert(1)</script>",
            "Quoted [00:05] line",
            "fn main() {}",
            "",
            "// after a blank line",
            "who",
            "Alice",
            "<b>docs</b>",
            "Unsafe click and control.",
        ] {
            assert!(texts.contains(&text), "{text:?} missing from {texts:?}");
        }
        assert!(has(Some("SourceCode"), "fn main() {}"), "{got:?}");
    }

    #[test]
    fn maps_inline_styles_lists_and_links() {
        let bytes = render("Weekly sync", MARKDOWN).expect("renders");
        let document = part(&bytes, "word/document.xml");
        // Bold, italic and monospace runs.
        assert!(
            document.contains("<w:b />") || document.contains("<w:b/>"),
            "no bold run"
        );
        assert!(
            document.contains("<w:i />") || document.contains("<w:i/>"),
            "no italic run"
        );
        assert!(
            document.contains("w:ascii=\"Courier New\""),
            "no monospace run"
        );
        // Real list numbering: the bullets on our bullet instance, the ordered list on one
        // of its own that restarts at 1, and neither on docx-rs's built-in instance 1.
        assert!(
            document.contains("<w:numId w:val=\"2\" /><w:ilvl w:val=\"0\" />"),
            "{document}"
        );
        assert!(
            document.contains("<w:numId w:val=\"3\" /><w:ilvl w:val=\"1\" />"),
            "{document}"
        );
        assert!(!document.contains("<w:numId w:val=\"1\" />"), "{document}");
        let numbering = part(&bytes, "word/numbering.xml");
        assert!(
            numbering.contains("<w:num w:numId=\"2\"><w:abstractNumId w:val=\"2\" /></w:num>"),
            "{numbering}"
        );
        assert!(
            numbering.contains(
                "<w:num w:numId=\"3\"><w:abstractNumId w:val=\"3\" />\
                 <w:lvlOverride w:ilvl=\"1\"><w:startOverride w:val=\"1\" /></w:lvlOverride></w:num>"
            ),
            "{numbering}"
        );
        let abstract_bullets = numbering
            .split("<w:abstractNum w:abstractNumId=\"2\">")
            .nth(1)
            .unwrap();
        assert!(
            abstract_bullets.starts_with(
                "<w:lvl w:ilvl=\"0\"><w:start w:val=\"1\" /><w:numFmt w:val=\"bullet\" />"
            ),
            "{numbering}"
        );
        assert!(document.contains("<w:tblGrid><w:gridCol"), "{document}");
        // The safe link is a hyperlink; the javascript: one is text only.
        let rels = part(&bytes, "word/_rels/document.xml.rels");
        assert!(rels.contains("https://example.com/a?b=1&amp;c=2"), "{rels}");
        assert!(!rels.contains("javascript"), "{rels}");
        assert!(!document.contains("javascript"));
        assert!(part(&bytes, "word/styles.xml").contains("heading 1"));
    }

    #[test]
    fn sets_the_title_property() {
        let bytes = render("Q&A <with> \"quotes\"", "text").expect("renders");
        let core = part(&bytes, "docProps/core.xml");
        assert!(
            core.contains("<dc:title>Q&amp;A &lt;with&gt; \"quotes\"</dc:title>"),
            "{core}"
        );
    }

    #[test]
    fn empty_markdown_is_still_a_document() {
        let bytes = render("", "").expect("renders");
        assert!(bytes.starts_with(b"PK"));
        assert!(paragraphs(&bytes).is_empty());
    }
}
