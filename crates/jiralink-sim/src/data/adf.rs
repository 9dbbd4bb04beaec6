//! Rich text: Atlassian Document Format (ADF, API v3) and wiki markup (API v2).
//!
//! The simulator stores ADF and converts at the edge. The conversions cover what integrations
//! send and read in practice, not every ADF node:
//!
//! | ADF | Wiki markup |
//! |---|---|
//! | `paragraph` | a line; blocks are separated by a blank line |
//! | `heading` (level n) | `hn. text` |
//! | `bulletList` / `orderedList` | `* item` / `# item` (nested: `**`, `##`) |
//! | `codeBlock` | `{code}…{code}` (`{code:lang}` with a language) |
//! | `blockquote` | `{quote}…{quote}` |
//! | `rule` | `----` |
//! | marks `strong`, `em`, `code`, `strike`, `link` | `*x*`, `_x_`, `{{x}}`, `-x-`, `[x\|url]` |
//! | `hardBreak` | a line break |
//! | `mention` | `[~accountid:…]` |
//!
//! Unknown nodes contribute their text. Wiki → ADF reads the same constructs back (`-x-` is not
//! read, since hyphens are common in plain text).

use serde_json::{Value, json};

/// Whether `value` looks like an ADF document (`{"type":"doc","version":1,…}`).
pub fn is_doc(value: &Value) -> bool {
    value.get("type").and_then(Value::as_str) == Some("doc")
        && value.get("content").is_some_and(Value::is_array)
}

/// The text of a document without markup, blocks separated by newlines.
pub fn plain_text(doc: &Value) -> String {
    let mut out = String::new();
    text_into(doc, &mut out);
    out.trim_end().to_owned()
}

fn text_into(node: &Value, out: &mut String) {
    match node.get("type").and_then(Value::as_str) {
        Some("text") => out.push_str(node.get("text").and_then(Value::as_str).unwrap_or("")),
        Some("hardBreak") => out.push('\n'),
        Some("mention") => {
            let text = node
                .pointer("/attrs/text")
                .and_then(Value::as_str)
                .unwrap_or("");
            out.push_str(text);
        }
        kind => {
            for child in children(node) {
                text_into(child, out);
            }
            if matches!(
                kind,
                Some("paragraph" | "heading" | "codeBlock" | "listItem")
            ) {
                out.push('\n');
            }
        }
    }
}

fn children(node: &Value) -> &[Value] {
    node.get("content")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Converts an ADF document to wiki markup.
pub fn to_wiki(doc: &Value) -> String {
    let blocks: Vec<String> = children(doc)
        .iter()
        .map(|b| block_to_wiki(b, 0))
        .filter(|s| !s.is_empty())
        .collect();
    blocks.join("\n\n")
}

fn block_to_wiki(node: &Value, depth: usize) -> String {
    let kind = node.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "paragraph" => inline_to_wiki(children(node)),
        "heading" => {
            let level = node
                .pointer("/attrs/level")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .clamp(1, 6);
            format!("h{level}. {}", inline_to_wiki(children(node)))
        }
        "bulletList" | "orderedList" => {
            let bullet = if kind == "bulletList" { '*' } else { '#' };
            let prefix: String = std::iter::repeat_n(bullet, depth + 1).collect();
            let mut lines = Vec::new();
            for item in children(node) {
                let mut first = true;
                for block in children(item) {
                    let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
                    if matches!(kind, "bulletList" | "orderedList") {
                        lines.push(block_to_wiki(block, depth + 1));
                    } else if first {
                        lines.push(format!("{prefix} {}", block_to_wiki(block, depth)));
                        first = false;
                    } else {
                        lines.push(block_to_wiki(block, depth));
                    }
                }
            }
            lines.join("\n")
        }
        "codeBlock" => {
            let text: String = children(node)
                .iter()
                .filter_map(|t| t.get("text").and_then(Value::as_str))
                .collect();
            match node.pointer("/attrs/language").and_then(Value::as_str) {
                Some(lang) if !lang.is_empty() => format!("{{code:{lang}}}\n{text}\n{{code}}"),
                _ => format!("{{code}}\n{text}\n{{code}}"),
            }
        }
        "blockquote" => {
            let inner: Vec<String> = children(node)
                .iter()
                .map(|b| block_to_wiki(b, depth))
                .collect();
            format!("{{quote}}\n{}\n{{quote}}", inner.join("\n\n"))
        }
        "rule" => "----".to_owned(),
        _ => {
            let mut out = String::new();
            text_into(node, &mut out);
            out.trim_end().to_owned()
        }
    }
}

fn inline_to_wiki(nodes: &[Value]) -> String {
    let mut out = String::new();
    for node in nodes {
        match node.get("type").and_then(Value::as_str) {
            Some("text") => {
                let mut text = node
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let marks = node
                    .get("marks")
                    .and_then(Value::as_array)
                    .map_or(&[][..], Vec::as_slice);
                for mark in marks {
                    text = match mark.get("type").and_then(Value::as_str) {
                        Some("strong") => format!("*{text}*"),
                        Some("em") => format!("_{text}_"),
                        Some("code") => format!("{{{{{text}}}}}"),
                        Some("strike") => format!("-{text}-"),
                        Some("underline") => format!("+{text}+"),
                        Some("link") => {
                            let href = mark
                                .pointer("/attrs/href")
                                .and_then(Value::as_str)
                                .unwrap_or("");
                            format!("[{text}|{href}]")
                        }
                        _ => text,
                    };
                }
                out.push_str(&text);
            }
            Some("hardBreak") => out.push('\n'),
            Some("mention") => {
                let id = node
                    .pointer("/attrs/id")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                out.push_str(&format!("[~accountid:{id}]"));
            }
            _ => text_into(node, &mut out),
        }
    }
    out
}

/// Converts wiki markup to an ADF document.
pub fn from_wiki(text: &str) -> Value {
    let mut blocks = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    let mut paragraph: Vec<&str> = Vec::new();
    let flush = |paragraph: &mut Vec<&str>, blocks: &mut Vec<Value>| {
        if !paragraph.is_empty() {
            let mut content = Vec::new();
            for (n, line) in paragraph.iter().enumerate() {
                if n > 0 {
                    content.push(json!({ "type": "hardBreak" }));
                }
                content.extend(inline_from_wiki(line));
            }
            blocks.push(json!({ "type": "paragraph", "content": content }));
            paragraph.clear();
        }
    };
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        if trimmed.is_empty() {
            flush(&mut paragraph, &mut blocks);
            i += 1;
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("{code") {
            flush(&mut paragraph, &mut blocks);
            let language = rest
                .strip_prefix(':')
                .and_then(|r| r.strip_suffix('}'))
                .unwrap_or("");
            let body = block_body(&lines, &mut i, "{code}");
            let mut block = json!({ "type": "codeBlock", "content": [{ "type": "text", "text": body.join("\n") }] });
            if !language.is_empty() {
                block["attrs"] = json!({ "language": language });
            }
            blocks.push(block);
            continue;
        }
        if trimmed == "{quote}" {
            flush(&mut paragraph, &mut blocks);
            let body = block_body(&lines, &mut i, "{quote}");
            let inner = from_wiki(&body.join("\n"));
            blocks.push(json!({ "type": "blockquote", "content": inner["content"] }));
            continue;
        }
        if trimmed == "----" {
            flush(&mut paragraph, &mut blocks);
            blocks.push(json!({ "type": "rule" }));
            i += 1;
            continue;
        }
        if let Some(level) = heading_level(trimmed) {
            flush(&mut paragraph, &mut blocks);
            blocks.push(json!({
                "type": "heading",
                "attrs": { "level": level },
                "content": inline_from_wiki(trimmed[4..].trim_start()),
            }));
            i += 1;
            continue;
        }
        if list_marker(trimmed).is_some() {
            flush(&mut paragraph, &mut blocks);
            let start = i;
            while i < lines.len() && list_marker(lines[i].trim()).is_some() {
                i += 1;
            }
            let items: Vec<(char, usize, &str)> = lines[start..i]
                .iter()
                .filter_map(|l| list_marker(l.trim()))
                .collect();
            blocks.push(list_from_items(&items, 1));
            continue;
        }
        paragraph.push(line);
        i += 1;
    }
    flush(&mut paragraph, &mut blocks);
    json!({ "type": "doc", "version": 1, "content": blocks })
}

/// The lines after the opening line at `*i` up to the `end` line (or the end of the text);
/// leaves `*i` past the closing line.
fn block_body<'a>(lines: &[&'a str], i: &mut usize, end: &str) -> Vec<&'a str> {
    let start = *i + 1;
    let stop = lines[start..]
        .iter()
        .position(|l| l.trim() == end)
        .map_or(lines.len(), |n| start + n);
    *i = stop + 1;
    lines[start..stop].to_vec()
}

fn heading_level(line: &str) -> Option<u64> {
    let bytes = line.as_bytes();
    (bytes.len() >= 4
        && bytes[0] == b'h'
        && (b'1'..=b'6').contains(&bytes[1])
        && bytes[2] == b'.'
        && bytes[3] == b' ')
        .then(|| u64::from(bytes[1] - b'0'))
}

/// `("* x")` → `('*', 1, "x")`.
fn list_marker(line: &str) -> Option<(char, usize, &str)> {
    let first = line.chars().next()?;
    if first != '*' && first != '#' {
        return None;
    }
    let depth = line.chars().take_while(|c| *c == first).count();
    let rest = &line[depth..];
    rest.strip_prefix(' ').map(|text| (first, depth, text))
}

fn list_from_items(items: &[(char, usize, &str)], depth: usize) -> Value {
    let kind = match items.first() {
        Some(('#', _, _)) => "orderedList",
        _ => "bulletList",
    };
    let mut content: Vec<Value> = Vec::new();
    let mut i = 0;
    while i < items.len() {
        let (_, d, text) = items[i];
        if d <= depth {
            content.push(json!({
                "type": "listItem",
                "content": [{ "type": "paragraph", "content": inline_from_wiki(text) }],
            }));
            i += 1;
        } else {
            let start = i;
            while i < items.len() && items[i].1 > depth {
                i += 1;
            }
            let nested = list_from_items(&items[start..i], depth + 1);
            match content
                .last_mut()
                .and_then(|item| item["content"].as_array_mut())
            {
                Some(blocks) => blocks.push(nested),
                None => content.push(json!({ "type": "listItem", "content": [nested] })),
            }
        }
    }
    json!({ "type": kind, "content": content })
}

/// Inline wiki markup → ADF text nodes.
fn inline_from_wiki(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let push_plain = |plain: &mut String, out: &mut Vec<Value>| {
        if !plain.is_empty() {
            out.push(json!({ "type": "text", "text": std::mem::take(plain) }));
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let rest: String = chars[i..].iter().collect();
        if rest.starts_with("{{")
            && let Some(end) = rest[2..].find("}}")
        {
            push_plain(&mut plain, &mut out);
            let inner = &rest[2..2 + end];
            out.push(json!({ "type": "text", "text": inner, "marks": [{ "type": "code" }] }));
            i += 2 + inner.chars().count() + 2;
            continue;
        }
        if c == '['
            && let Some(end) = rest.find(']')
        {
            let inner = &rest[1..end];
            if let Some(account) = inner.strip_prefix("~accountid:") {
                push_plain(&mut plain, &mut out);
                out.push(json!({ "type": "mention", "attrs": { "id": account, "text": format!("@{account}") } }));
                i += inner.chars().count() + 2;
                continue;
            }
            let (label, href) = inner.split_once('|').unwrap_or((inner, inner));
            if href.contains("://") || href.starts_with("mailto:") {
                push_plain(&mut plain, &mut out);
                out.push(json!({ "type": "text", "text": label, "marks": [{ "type": "link", "attrs": { "href": href } }] }));
                i += inner.chars().count() + 2;
                continue;
            }
        }
        if (c == '*' || c == '_' || c == '+')
            && at_word_start(&chars, i)
            && let Some(len) = closing(&chars, i, c)
        {
            push_plain(&mut plain, &mut out);
            let inner: String = chars[i + 1..i + 1 + len].iter().collect();
            let mark = match c {
                '*' => "strong",
                '_' => "em",
                _ => "underline",
            };
            out.push(json!({ "type": "text", "text": inner, "marks": [{ "type": mark }] }));
            i += len + 2;
            continue;
        }
        plain.push(c);
        i += 1;
    }
    push_plain(&mut plain, &mut out);
    out
}

fn at_word_start(chars: &[char], i: usize) -> bool {
    i == 0 || !chars[i - 1].is_alphanumeric()
}

/// Length of the text between a mark character at `i` and its closing partner.
fn closing(chars: &[char], i: usize, mark: char) -> Option<usize> {
    let first = *chars.get(i + 1)?;
    if first.is_whitespace() || first == mark {
        return None;
    }
    let mut j = i + 1;
    while j < chars.len() {
        if chars[j] == mark
            && !chars[j - 1].is_whitespace()
            && chars.get(j + 1).is_none_or(|c| !c.is_alphanumeric())
        {
            return Some(j - i - 1);
        }
        j += 1;
    }
    None
}

/// Renders a document as HTML (for `renderedFields` and `renderedBody`).
pub fn to_html(doc: &Value) -> String {
    let mut out = String::new();
    for block in children(doc) {
        block_to_html(block, &mut out);
    }
    out
}

fn escape_html(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn block_to_html(node: &Value, out: &mut String) {
    let kind = node.get("type").and_then(Value::as_str).unwrap_or("");
    let (open, close) = match kind {
        "paragraph" => ("<p>".to_owned(), "</p>".to_owned()),
        "heading" => {
            let level = node
                .pointer("/attrs/level")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .clamp(1, 6);
            (format!("<h{level}>"), format!("</h{level}>"))
        }
        "bulletList" => ("<ul>".to_owned(), "</ul>".to_owned()),
        "orderedList" => ("<ol>".to_owned(), "</ol>".to_owned()),
        "listItem" => ("<li>".to_owned(), "</li>".to_owned()),
        "codeBlock" => ("<pre><code>".to_owned(), "</code></pre>".to_owned()),
        "blockquote" => ("<blockquote>".to_owned(), "</blockquote>".to_owned()),
        "rule" => {
            out.push_str("<hr />");
            return;
        }
        "text" | "hardBreak" | "mention" => {
            inline_to_html(node, out);
            return;
        }
        _ => (String::new(), String::new()),
    };
    out.push_str(&open);
    for child in children(node) {
        block_to_html(child, out);
    }
    out.push_str(&close);
}

fn inline_to_html(node: &Value, out: &mut String) {
    match node.get("type").and_then(Value::as_str) {
        Some("hardBreak") => out.push_str("<br />"),
        Some("mention") => {
            let text = node
                .pointer("/attrs/text")
                .and_then(Value::as_str)
                .unwrap_or("");
            out.push_str("<span class=\"user-hover\">");
            escape_html(text, out);
            out.push_str("</span>");
        }
        _ => {
            let text = node.get("text").and_then(Value::as_str).unwrap_or("");
            let marks = node
                .get("marks")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            let mut closers = Vec::new();
            for mark in marks {
                match mark.get("type").and_then(Value::as_str) {
                    Some("strong") => {
                        out.push_str("<b>");
                        closers.push("</b>");
                    }
                    Some("em") => {
                        out.push_str("<em>");
                        closers.push("</em>");
                    }
                    Some("code") => {
                        out.push_str("<tt>");
                        closers.push("</tt>");
                    }
                    Some("strike") => {
                        out.push_str("<del>");
                        closers.push("</del>");
                    }
                    Some("link") => {
                        let href = mark
                            .pointer("/attrs/href")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        out.push_str("<a href=\"");
                        escape_html(href, out);
                        out.push_str("\">");
                        closers.push("</a>");
                    }
                    _ => {}
                }
            }
            escape_html(text, out);
            for closer in closers.iter().rev() {
                out.push_str(closer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adf_to_wiki_covers_common_nodes() {
        let doc = json!({"type":"doc","version":1,"content":[
            {"type":"heading","attrs":{"level":2},"content":[{"type":"text","text":"Title"}]},
            {"type":"paragraph","content":[
                {"type":"text","text":"Hello "},
                {"type":"text","text":"world","marks":[{"type":"strong"}]},
                {"type":"text","text":" and "},
                {"type":"text","text":"docs","marks":[{"type":"link","attrs":{"href":"https://example.com"}}]}
            ]},
            {"type":"bulletList","content":[
                {"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"one"}]}]},
                {"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"two"}]}]}
            ]},
            {"type":"codeBlock","attrs":{"language":"rust"},"content":[{"type":"text","text":"fn main() {}"}]}
        ]});
        assert_eq!(
            to_wiki(&doc),
            "h2. Title\n\nHello *world* and [docs|https://example.com]\n\n* one\n* two\n\n{code:rust}\nfn main() {}\n{code}"
        );
    }

    #[test]
    fn wiki_round_trips_through_adf() {
        let wiki = "h2. Title\n\nHello *world* and [docs|https://example.com]\n\n* one\n** nested\n* two\n\n# first\n# second\n\n{code:rust}\nfn main() {}\n{code}";
        let doc = from_wiki(wiki);
        assert!(is_doc(&doc));
        assert_eq!(to_wiki(&doc), wiki);
    }

    #[test]
    fn plain_words_keep_their_characters() {
        let doc = from_wiki("snake_case and 2*3*4 stay as they are");
        assert_eq!(plain_text(&doc), "snake_case and 2*3*4 stay as they are");
        assert_eq!(to_wiki(&doc), "snake_case and 2*3*4 stay as they are");
    }

    #[test]
    fn html_escapes_text() {
        let doc = from_wiki("a <b> & *bold*");
        assert_eq!(to_html(&doc), "<p>a &lt;b&gt; &amp; <b>bold</b></p>");
    }
}
