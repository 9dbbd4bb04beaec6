//! Atlassian Document Format (ADF) → plain text or Markdown, for exports that ask for
//! rich-text fields as text.
//!
//! Jira API v3 sends rich text (descriptions, comment bodies, worklog comments, text-area custom
//! fields) as ADF documents: `{"type":"doc","version":1,"content":[…]}`. [`convert_record`]
//! replaces every such document anywhere in a record by a string.
//!
//! | ADF | Plain text | Markdown |
//! |---|---|---|
//! | `paragraph`, `heading` | a line | a line; `#`… `######` for headings |
//! | `bulletList`, `orderedList`, `taskList`, `decisionList` | `- item`, `1. item` (nested lists indented) | the same, `- [ ]`/`- [x]` for tasks |
//! | `codeBlock` | the code | a fenced block with its language |
//! | `blockquote`, `panel` | the content | `> ` lines; a panel starts with its type in bold |
//! | `table` | a line per row, cells separated by ` \| ` | a GitHub table (the first row is the header) |
//! | `rule` | nothing | `---` |
//! | marks `strong`, `em`, `code`, `strike`, `link` | the text | `**x**`, `*x*`, `` `x` ``, `~~x~~`, `[x](url)` |
//! | `hardBreak` | a line break | a line break |
//! | `mention`, `emoji`, `status`, `date`, `inlineCard` | `@Name`, the emoji, the status text, the date, the URL | the same |
//! | `expand` | its title, then its content | its title in bold, then its content |
//! | anything else | its text | its text |
//!
//! [`AdfEncoder`] applies the conversion to every record an export writes, in any format.
//!
//! Blocks are separated by one line break in plain text and by a blank line in Markdown. The
//! plain text holds every text node's text unchanged (a property test checks it); Markdown
//! escapes the characters that would otherwise become markup.

use serde_json::{Value, value::RawValue};
use time::{OffsetDateTime, format_description::well_known::Iso8601};

use crate::{error::SyncError, output::Encoder, spec::AdfMode};

/// What ADF documents become.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AdfTarget {
    /// Plain text.
    Text,
    /// Markdown (CommonMark with GitHub tables and strikethrough).
    Markdown,
}

/// Whether `value` is an ADF document: `{"type":"doc","version":1,"content":[…]}`.
#[must_use]
pub fn is_adf(value: &Value) -> bool {
    let Value::Object(map) = value else {
        return false;
    };
    map.get("type").and_then(Value::as_str) == Some("doc")
        && map.get("version").and_then(Value::as_u64) == Some(1)
        && map.get("content").is_some_and(Value::is_array)
}

/// Replaces every ADF document in `value` (at any depth) by its text or Markdown; returns how
/// many were converted.
pub fn convert_record(value: &mut Value, target: AdfTarget) -> usize {
    if is_adf(value) {
        *value = Value::String(convert(value, target));
        return 1;
    }
    match value {
        Value::Object(map) => map.values_mut().map(|v| convert_record(v, target)).sum(),
        Value::Array(items) => items.iter_mut().map(|v| convert_record(v, target)).sum(),
        _ => 0,
    }
}

/// One document as text or Markdown.
#[must_use]
pub fn convert(doc: &Value, target: AdfTarget) -> String {
    match target {
        AdfTarget::Text => to_text(doc),
        AdfTarget::Markdown => to_markdown(doc),
    }
}

/// A document as plain text.
#[must_use]
pub fn to_text(doc: &Value) -> String {
    let mut lines = Vec::new();
    text_blocks(children(doc), "", &mut lines);
    lines.join("\n")
}

/// A document as Markdown.
#[must_use]
pub fn to_markdown(doc: &Value) -> String {
    let blocks: Vec<String> = children(doc)
        .iter()
        .map(md_block)
        .filter(|b| !b.is_empty())
        .collect();
    blocks.join("\n\n")
}

fn kind(node: &Value) -> &str {
    node.get("type").and_then(Value::as_str).unwrap_or("")
}

fn children(node: &Value) -> &[Value] {
    node.get("content")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn attr<'a>(node: &'a Value, name: &str) -> Option<&'a Value> {
    node.get("attrs").and_then(|a| a.get(name))
}

fn attr_str<'a>(node: &'a Value, name: &str) -> Option<&'a str> {
    attr(node, name).and_then(Value::as_str)
}

fn is_block_container(node: &Value) -> bool {
    children(node).iter().any(|c| {
        !matches!(
            kind(c),
            "text"
                | "hardBreak"
                | "mention"
                | "emoji"
                | "inlineCard"
                | "date"
                | "status"
                | "mediaInline"
                | "placeholder"
        )
    })
}

/// The start number of an ordered list.
fn list_start(node: &Value) -> u64 {
    attr(node, "order").and_then(Value::as_u64).unwrap_or(1)
}

/// A `date` node's day (its `timestamp` is epoch milliseconds, as text).
fn date_text(node: &Value) -> String {
    let ms = match attr(node, "timestamp") {
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    };
    ms.and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
        .and_then(|t| t.date().format(&Iso8601::DATE).ok())
        .unwrap_or_default()
}

/// The text of an inline node that is not a `text` node.
fn inline_atom(node: &Value) -> Option<String> {
    Some(match kind(node) {
        "mention" => {
            let text = attr_str(node, "text").unwrap_or("");
            if text.is_empty() || text.starts_with('@') {
                text.to_owned()
            } else {
                format!("@{text}")
            }
        }
        "emoji" => attr_str(node, "text")
            .or_else(|| attr_str(node, "shortName"))
            .unwrap_or("")
            .to_owned(),
        "status" => attr_str(node, "text").unwrap_or("").to_owned(),
        "date" => date_text(node),
        "inlineCard" => attr_str(node, "url").unwrap_or("").to_owned(),
        "placeholder" => String::new(),
        _ => return None,
    })
}

// ---------------------------------------------------------------- plain text

fn text_inline(nodes: &[Value], out: &mut String) {
    for node in nodes {
        match kind(node) {
            "text" => out.push_str(node.get("text").and_then(Value::as_str).unwrap_or("")),
            "hardBreak" => out.push('\n'),
            _ => match inline_atom(node) {
                Some(text) => out.push_str(&text),
                None => {
                    // Unknown inline or block nodes inside a paragraph keep their text.
                    let mut lines = Vec::new();
                    text_blocks(std::slice::from_ref(node), "", &mut lines);
                    out.push_str(&lines.join("\n"));
                }
            },
        }
    }
}

/// Appends the lines of `blocks`, each prefixed by `indent`.
fn text_blocks(blocks: &[Value], indent: &str, lines: &mut Vec<String>) {
    for block in blocks {
        match kind(block) {
            "paragraph" | "heading" => {
                let mut line = String::new();
                text_inline(children(block), &mut line);
                push_lines(lines, indent, "", &line);
            }
            "codeBlock" => {
                let mut code = String::new();
                text_inline(children(block), &mut code);
                push_lines(lines, indent, "", &code);
            }
            "bulletList" | "orderedList" | "taskList" | "decisionList" => {
                let ordered = kind(block) == "orderedList";
                let mut number = list_start(block);
                for item in children(block) {
                    let marker = if ordered {
                        let m = format!("{number}. ");
                        number += 1;
                        m
                    } else {
                        "- ".to_owned()
                    };
                    text_item(item, indent, &marker, lines);
                }
            }
            "table" => {
                for row in children(block) {
                    let cells: Vec<String> = children(row)
                        .iter()
                        .map(|cell| {
                            let mut inner = Vec::new();
                            text_blocks(children(cell), "", &mut inner);
                            inner.join(" ")
                        })
                        .collect();
                    push_lines(lines, indent, "", &cells.join(" | "));
                }
            }
            "rule" => {}
            "expand" | "nestedExpand" => {
                if let Some(title) = attr_str(block, "title").filter(|t| !t.is_empty()) {
                    push_lines(lines, indent, "", title);
                }
                text_blocks(children(block), indent, lines);
            }
            "text" | "hardBreak" | "mention" | "emoji" | "status" | "date" | "inlineCard" => {
                let mut line = String::new();
                text_inline(std::slice::from_ref(block), &mut line);
                push_lines(lines, indent, "", &line);
            }
            // blockquote, panel, listItem outside a list, media and unknown blocks: their
            // content, in order.
            _ => {
                if is_block_container(block) {
                    text_blocks(children(block), indent, lines);
                } else if !children(block).is_empty() {
                    let mut line = String::new();
                    text_inline(children(block), &mut line);
                    push_lines(lines, indent, "", &line);
                } else if let Some(text) = block.get("text").and_then(Value::as_str) {
                    push_lines(lines, indent, "", text);
                }
            }
        }
    }
}

/// A list item: its first block after `marker`, the rest (and nested lists) indented.
fn text_item(item: &Value, indent: &str, marker: &str, lines: &mut Vec<String>) {
    let nested = format!("{indent}{}", " ".repeat(marker.chars().count()));
    let blocks = children(item);
    if kind(item) != "listItem" && !is_block_container(item) {
        // taskItem and decisionItem hold inline content directly.
        let mut line = String::new();
        text_inline(blocks, &mut line);
        push_item_lines(lines, indent, marker, &nested, &line);
        return;
    }
    let mut inner = Vec::new();
    text_blocks(blocks, "", &mut inner);
    let mut first = true;
    for line in inner {
        if first {
            lines.push(format!("{indent}{marker}{line}"));
            first = false;
        } else {
            lines.push(format!("{nested}{line}"));
        }
    }
    if first {
        lines.push(format!("{indent}{}", marker.trim_end()));
    }
}

fn push_item_lines(lines: &mut Vec<String>, indent: &str, marker: &str, nested: &str, text: &str) {
    for (i, line) in text.split('\n').enumerate() {
        if i == 0 {
            lines.push(format!("{indent}{marker}{line}"));
        } else {
            lines.push(format!("{nested}{line}"));
        }
    }
}

fn push_lines(lines: &mut Vec<String>, indent: &str, prefix: &str, text: &str) {
    for line in text.split('\n') {
        lines.push(format!("{indent}{prefix}{line}"));
    }
}

// ---------------------------------------------------------------- Markdown

/// Escapes the characters that would become Markdown markup in running text.
fn md_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '~' | '|'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A code span that survives backticks inside the code.
fn md_code_span(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    if longest > 0 || text.starts_with(' ') || text.ends_with(' ') {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

fn md_text(node: &Value) -> String {
    let raw = node.get("text").and_then(Value::as_str).unwrap_or("");
    let marks = node
        .get("marks")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let is_code = marks.iter().any(|m| kind(m) == "code");
    let mut text = if is_code {
        md_code_span(raw)
    } else {
        md_escape(raw).replace('\n', "  \n")
    };
    if raw.trim().is_empty() {
        return text;
    }
    for mark in marks {
        text = match kind(mark) {
            "strong" => format!("**{text}**"),
            "em" => format!("*{text}*"),
            "strike" => format!("~~{text}~~"),
            "link" => {
                let href = attr_str(mark, "href").unwrap_or("");
                format!("[{text}]({})", href.replace(' ', "%20").replace(')', "%29"))
            }
            _ => text,
        };
    }
    text
}

fn md_inline(nodes: &[Value]) -> String {
    let mut out = String::new();
    for node in nodes {
        match kind(node) {
            "text" => out.push_str(&md_text(node)),
            "hardBreak" => out.push_str("  \n"),
            "inlineCard" => {
                let url = attr_str(node, "url").unwrap_or("");
                if !url.is_empty() {
                    out.push('<');
                    out.push_str(url);
                    out.push('>');
                }
            }
            _ => match inline_atom(node) {
                Some(text) => out.push_str(&md_escape(&text)),
                None => out.push_str(&md_block(node)),
            },
        }
    }
    out
}

fn md_block(block: &Value) -> String {
    match kind(block) {
        "paragraph" => md_inline(children(block)),
        "heading" => {
            let level = attr(block, "level")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .clamp(1, 6);
            let hashes = "#".repeat(usize::try_from(level).unwrap_or(1));
            format!("{hashes} {}", md_inline(children(block)))
        }
        "codeBlock" => {
            let mut code = String::new();
            text_inline(children(block), &mut code);
            let language = attr_str(block, "language").unwrap_or("");
            let fence = if code.contains("```") { "~~~~" } else { "```" };
            format!("{fence}{language}\n{code}\n{fence}")
        }
        "bulletList" | "orderedList" | "taskList" | "decisionList" => md_list(block),
        "blockquote" => quote(&md_blocks(children(block))),
        "panel" => {
            let label = attr_str(block, "panelType").unwrap_or("info");
            let mut title = label.to_owned();
            if let Some(first) = title.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            quote(&format!("**{title}:**\n\n{}", md_blocks(children(block))))
        }
        "rule" => "---".to_owned(),
        "table" => md_table(block),
        "expand" | "nestedExpand" => {
            let body = md_blocks(children(block));
            match attr_str(block, "title").filter(|t| !t.is_empty()) {
                Some(title) => format!("**{}**\n\n{body}", md_escape(title)),
                None => body,
            }
        }
        "text" | "hardBreak" | "mention" | "emoji" | "status" | "date" | "inlineCard" => {
            md_inline(std::slice::from_ref(block))
        }
        _ => {
            if is_block_container(block) {
                md_blocks(children(block))
            } else if !children(block).is_empty() {
                md_inline(children(block))
            } else {
                block
                    .get("text")
                    .and_then(Value::as_str)
                    .map(md_escape)
                    .unwrap_or_default()
            }
        }
    }
}

fn md_blocks(blocks: &[Value]) -> String {
    let parts: Vec<String> = blocks
        .iter()
        .map(md_block)
        .filter(|b| !b.is_empty())
        .collect();
    parts.join("\n\n")
}

fn quote(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            if line.is_empty() {
                ">".to_owned()
            } else {
                format!("> {line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn md_list(list: &Value) -> String {
    let list_kind = kind(list);
    let mut number = list_start(list);
    let mut items = Vec::new();
    for item in children(list) {
        let marker = match list_kind {
            "orderedList" => {
                let m = format!("{number}. ");
                number += 1;
                m
            }
            "taskList" if attr_str(item, "state") == Some("DONE") => "- [x] ".to_owned(),
            "taskList" => "- [ ] ".to_owned(),
            _ => "- ".to_owned(),
        };
        let body = if kind(item) == "listItem" || is_block_container(item) {
            // Blocks of one item are kept tight (one line break apart).
            children(item)
                .iter()
                .map(md_block)
                .filter(|b| !b.is_empty())
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            md_inline(children(item))
        };
        let pad = " ".repeat(marker.chars().count());
        let mut lines = body.split('\n');
        let first = lines.next().unwrap_or("");
        let mut text = format!("{marker}{first}");
        for line in lines {
            text.push('\n');
            if !line.is_empty() {
                text.push_str(&pad);
                text.push_str(line);
            }
        }
        items.push(text.trim_end().to_owned());
    }
    items.join("\n")
}

fn md_table(table: &Value) -> String {
    let rows: Vec<Vec<String>> = children(table)
        .iter()
        .map(|row| {
            children(row)
                .iter()
                .map(|cell| {
                    let blocks: Vec<String> = children(cell)
                        .iter()
                        .map(md_block)
                        .filter(|b| !b.is_empty())
                        .collect();
                    // A cell is one line: its blocks and line breaks become <br>.
                    blocks
                        .join("<br>")
                        .replace("  \n", "<br>")
                        .replace('\n', "<br>")
                })
                .collect()
        })
        .collect();
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    if width == 0 {
        return String::new();
    }
    let line = |cells: &[String]| {
        let mut padded: Vec<&str> = cells.iter().map(String::as_str).collect();
        padded.resize(width, "");
        format!("| {} |", padded.join(" | "))
    };
    let mut out = Vec::with_capacity(rows.len() + 1);
    let mut rows = rows.iter();
    if let Some(header) = rows.next() {
        out.push(line(header));
        out.push(format!("|{}", " --- |".repeat(width)));
    }
    for row in rows {
        out.push(line(row));
    }
    out.join("\n")
}

/// An encoder that converts ADF documents in each record before `inner` writes it.
pub struct AdfEncoder {
    inner: Box<dyn Encoder>,
    target: AdfTarget,
}

impl std::fmt::Debug for AdfEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdfEncoder")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl AdfEncoder {
    /// Wraps `inner` for `mode`; `Raw` leaves records as they are and returns `inner`.
    #[must_use]
    pub fn wrap(inner: Box<dyn Encoder>, mode: AdfMode) -> Box<dyn Encoder> {
        match mode {
            AdfMode::Raw => inner,
            AdfMode::Text => Box::new(Self {
                inner,
                target: AdfTarget::Text,
            }),
            AdfMode::Markdown => Box::new(Self {
                inner,
                target: AdfTarget::Markdown,
            }),
        }
    }
}

/// `record` with its ADF documents converted; `None` when it holds none (the text Jira sent
/// is then used as it is).
///
/// # Errors
/// [`SyncError::Decode`] when the record is not JSON.
pub fn converted(record: &RawValue, target: AdfTarget) -> Result<Option<Box<RawValue>>, SyncError> {
    // Records without a document are passed on untouched, without building a value.
    if !record.get().contains("\"doc\"") {
        return Ok(None);
    }
    let mut value: Value = serde_json::from_str(record.get())
        .map_err(|e| SyncError::Decode(format!("a record as JSON ({e})")))?;
    if convert_record(&mut value, target) == 0 {
        return Ok(None);
    }
    serde_json::value::to_raw_value(&value)
        .map(Some)
        .map_err(|e| SyncError::Decode(format!("a converted record ({e})")))
}

impl Encoder for AdfEncoder {
    fn begin(&mut self, out: &mut Vec<u8>) -> Result<(), SyncError> {
        self.inner.begin(out)
    }

    fn record(&mut self, record: &RawValue, out: &mut Vec<u8>) -> Result<(), SyncError> {
        match converted(record, self.target)? {
            Some(changed) => self.inner.record(&changed, out),
            None => self.inner.record(record, out),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), SyncError> {
        self.inner.finish(out)
    }

    fn state(&self) -> Value {
        self.inner.state()
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[allow(
        clippy::needless_pass_by_value,
        reason = "tests build documents inline"
    )]
    fn doc(content: Value) -> Value {
        json!({"type": "doc", "version": 1, "content": content})
    }

    fn p(text: &str) -> Value {
        json!({"type": "paragraph", "content": [{"type": "text", "text": text}]})
    }

    #[test]
    fn recognises_documents_only() {
        assert!(is_adf(&doc(json!([]))));
        assert!(!is_adf(&json!({"type": "doc", "content": []})));
        assert!(!is_adf(
            &json!({"type": "doc", "version": 2, "content": []})
        ));
        assert!(!is_adf(
            &json!({"type": "paragraph", "version": 1, "content": []})
        ));
        assert!(!is_adf(&json!("doc")));
    }

    fn sample() -> Value {
        doc(json!([
            {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Steps"}]},
            {"type": "paragraph", "content": [
                {"type": "text", "text": "Ask "},
                {"type": "mention", "attrs": {"id": "5b10", "text": "@Mia"}},
                {"type": "text", "text": " to "},
                {"type": "text", "text": "check", "marks": [{"type": "strong"}]},
                {"type": "text", "text": " the "},
                {"type": "text", "text": "docs", "marks": [{"type": "link", "attrs": {"href": "https://example.com/d"}}]},
                {"type": "hardBreak"},
                {"type": "text", "text": "run "},
                {"type": "text", "text": "make_all", "marks": [{"type": "code"}]}
            ]},
            {"type": "bulletList", "content": [
                {"type": "listItem", "content": [p("one"), {"type": "orderedList", "content": [
                    {"type": "listItem", "content": [p("one.a")]}
                ]}]},
                {"type": "listItem", "content": [p("two")]}
            ]},
            {"type": "codeBlock", "attrs": {"language": "rust"}, "content": [{"type": "text", "text": "fn main() {}"}]},
            {"type": "panel", "attrs": {"panelType": "warning"}, "content": [p("Careful")]},
            {"type": "table", "content": [
                {"type": "tableRow", "content": [
                    {"type": "tableHeader", "content": [p("Key")]},
                    {"type": "tableHeader", "content": [p("Value")]}
                ]},
                {"type": "tableRow", "content": [
                    {"type": "tableCell", "content": [p("a|b")]},
                    {"type": "tableCell", "content": [p("2")]}
                ]}
            ]},
            {"type": "rule"},
            {"type": "mysteryBlock", "content": [{"type": "text", "text": "kept"}]}
        ]))
    }

    #[test]
    fn plain_text_keeps_words_and_structure() {
        assert_eq!(
            to_text(&sample()),
            "Steps\n\
             Ask @Mia to check the docs\n\
             run make_all\n\
             - one\n  1. one.a\n\
             - two\n\
             fn main() {}\n\
             Careful\n\
             Key | Value\n\
             a|b | 2\n\
             kept"
        );
    }

    #[test]
    fn markdown_renders_blocks_and_marks() {
        assert_eq!(
            to_markdown(&sample()),
            "## Steps\n\n\
             Ask @Mia to **check** the [docs](https://example.com/d)  \n\
             run `make_all`\n\n\
             - one\n  1. one.a\n\
             - two\n\n\
             ```rust\nfn main() {}\n```\n\n\
             > **Warning:**\n>\n> Careful\n\n\
             | Key | Value |\n| --- | --- |\n| a\\|b | 2 |\n\n\
             ---\n\n\
             kept"
        );
    }

    #[test]
    fn markdown_escapes_markup_characters_in_text() {
        let d = doc(json!([p("snake_case *not bold* [x]")]));
        assert_eq!(to_markdown(&d), "snake\\_case \\*not bold\\* \\[x\\]");
        assert_eq!(to_text(&d), "snake_case *not bold* [x]");
    }

    #[test]
    fn tasks_dates_emoji_status_and_cards() {
        let d = doc(json!([
            {"type": "taskList", "content": [
                {"type": "taskItem", "attrs": {"state": "DONE"}, "content": [{"type": "text", "text": "shipped"}]},
                {"type": "taskItem", "attrs": {"state": "TODO"}, "content": [{"type": "text", "text": "tested"}]}
            ]},
            {"type": "paragraph", "content": [
                {"type": "date", "attrs": {"timestamp": "1767605400000"}},
                {"type": "text", "text": " "},
                {"type": "emoji", "attrs": {"shortName": ":smile:", "text": "😄"}},
                {"type": "text", "text": " "},
                {"type": "status", "attrs": {"text": "IN PROGRESS", "color": "blue"}},
                {"type": "text", "text": " "},
                {"type": "inlineCard", "attrs": {"url": "https://example.com/x"}}
            ]}
        ]));
        assert_eq!(
            to_text(&d),
            "- shipped\n- tested\n2026-01-05 😄 IN PROGRESS https://example.com/x"
        );
        assert_eq!(
            to_markdown(&d),
            "- [x] shipped\n- [ ] tested\n\n2026-01-05 😄 IN PROGRESS <https://example.com/x>"
        );
    }

    #[test]
    fn ordered_lists_start_where_asked() {
        let d = doc(
            json!([{"type": "orderedList", "attrs": {"order": 3}, "content": [
                {"type": "listItem", "content": [p("c")]},
                {"type": "listItem", "content": [p("d")]}
            ]}]),
        );
        assert_eq!(to_text(&d), "3. c\n4. d");
        assert_eq!(to_markdown(&d), "3. c\n4. d");
    }

    #[test]
    fn records_convert_at_any_depth() {
        let mut record = json!({
            "id": "1",
            "fields": {
                "description": doc(json!([p("hello")])),
                "customfield_1": [doc(json!([p("a")])), "plain"],
                "summary": "s"
            },
            "notAdf": {"type": "doc", "content": []}
        });
        assert_eq!(convert_record(&mut record, AdfTarget::Text), 2);
        assert_eq!(record["fields"]["description"], "hello");
        assert_eq!(record["fields"]["customfield_1"], json!(["a", "plain"]));
        assert_eq!(record["notAdf"], json!({"type": "doc", "content": []}));
    }

    #[test]
    fn empty_and_odd_documents_do_not_fail() {
        assert_eq!(to_text(&doc(json!([]))), "");
        assert_eq!(to_markdown(&doc(json!([]))), "");
        let odd = doc(json!([
            {"type": "paragraph"},
            {"type": "heading", "attrs": {"level": 99}, "content": [{"type": "text"}]},
            {"type": "table", "content": []},
            {"type": "bulletList", "content": [{"type": "listItem"}]},
            17,
            "text"
        ]));
        let _ = to_text(&odd);
        let _ = to_markdown(&odd);
    }

    fn arb_text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 _*`|#>\\[\\]\\\\-]{0,12}"
    }

    fn arb_inline() -> impl Strategy<Value = Value> {
        let marks = prop::sample::subsequence(vec!["strong", "em", "code", "strike", "link"], 0..3)
            .prop_map(|ms| {
                ms.into_iter()
                    .map(|m| {
                        if m == "link" {
                            json!({"type": "link", "attrs": {"href": "https://example.com"}})
                        } else {
                            json!({"type": m})
                        }
                    })
                    .collect::<Vec<_>>()
            });
        prop_oneof![
            4 => (arb_text(), marks).prop_map(|(t, m)| json!({"type": "text", "text": t, "marks": m})),
            1 => Just(json!({"type": "hardBreak"})),
            1 => Just(json!({"type": "mention", "attrs": {"id": "x", "text": "@Al"}})),
            1 => arb_text().prop_map(|t| json!({"type": "unknownInline", "content": [{"type": "text", "text": t}]})),
        ]
    }

    fn arb_block() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            prop::collection::vec(arb_inline(), 0..4)
                .prop_map(|c| json!({"type": "paragraph", "content": c})),
            (1u64..8, prop::collection::vec(arb_inline(), 0..3))
                .prop_map(|(l, c)| json!({"type": "heading", "attrs": {"level": l}, "content": c})),
            arb_text().prop_map(
                |t| json!({"type": "codeBlock", "content": [{"type": "text", "text": t}]})
            ),
            Just(json!({"type": "rule"})),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            let blocks = prop::collection::vec(inner, 0..3);
            prop_oneof![
                prop::collection::vec(blocks.clone(), 0..3).prop_map(|items| {
                    let items: Vec<Value> = items
                        .into_iter()
                        .map(|c| json!({"type": "listItem", "content": c}))
                        .collect();
                    json!({"type": "bulletList", "content": items})
                }),
                prop::collection::vec(blocks.clone(), 0..3).prop_map(|items| {
                    let items: Vec<Value> = items
                        .into_iter()
                        .map(|c| json!({"type": "listItem", "content": c}))
                        .collect();
                    json!({"type": "orderedList", "content": items})
                }),
                blocks
                    .clone()
                    .prop_map(|c| json!({"type": "blockquote", "content": c})),
                blocks.clone().prop_map(
                    |c| json!({"type": "panel", "attrs": {"panelType": "note"}, "content": c})
                ),
                blocks
                    .clone()
                    .prop_map(|c| json!({"type": "somethingNew", "content": c})),
                prop::collection::vec(prop::collection::vec(blocks, 0..3), 0..3).prop_map(|rows| {
                    let rows: Vec<Value> = rows
                        .into_iter()
                        .map(|cells| {
                            let cells: Vec<Value> = cells
                                .into_iter()
                                .map(|c| json!({"type": "tableCell", "content": c}))
                                .collect();
                            json!({"type": "tableRow", "content": cells})
                        })
                        .collect();
                    json!({"type": "table", "content": rows})
                }),
            ]
        })
    }

    fn texts(node: &Value, out: &mut Vec<String>) {
        if kind(node) == "text"
            && let Some(t) = node.get("text").and_then(Value::as_str)
        {
            out.push(t.to_owned());
        }
        for c in children(node) {
            texts(c, out);
        }
    }

    proptest! {
        #[test]
        fn conversion_never_panics_and_text_keeps_every_text_node(
            blocks in prop::collection::vec(arb_block(), 0..5)
        ) {
            let d = doc(Value::Array(blocks));
            let text = to_text(&d);
            let _markdown = to_markdown(&d);
            let mut all = Vec::new();
            texts(&d, &mut all);
            for t in all {
                prop_assert!(text.contains(&t), "{t:?} missing from {text:?}");
            }
        }
    }

    #[test]
    fn the_encoder_wrapper_converts_only_records_with_documents() {
        let mut enc = AdfEncoder::wrap(Box::new(crate::output::Ndjson), AdfMode::Markdown);
        let mut out = Vec::new();
        let with = RawValue::from_string(
            r#"{"id":"1","body":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"hi","marks":[{"type":"strong"}]}]}]}}"#.into(),
        )
        .unwrap();
        let without = RawValue::from_string(r#"{"id": "2"}"#.into()).unwrap();
        enc.record(&with, &mut out).unwrap();
        enc.record(&without, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"body\":\"**hi**\",\"id\":\"1\"}\n{\"id\": \"2\"}\n"
        );
    }
}
