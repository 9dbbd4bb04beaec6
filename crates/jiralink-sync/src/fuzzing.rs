//! Entry points for the fuzz targets in `fuzz/` and for rule checks shared with the unit
//! tests. Each calls the code exports and imports run; nothing here decides anything of its
//! own. Not part of the supported API.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::{error::SyncError, spec::ExportSpec};

/// The JQL an issue export searches with between `lower_ms` and `upper_ms`: the spec's JQL
/// (narrowed to its issue ids) inside the run's bounds.
#[must_use]
pub fn export_search_jql(spec: &ExportSpec, lower_ms: Option<i64>, upper_ms: i64) -> String {
    crate::issues::bounded_jql(
        crate::issues::by_ids_jql(spec).as_deref(),
        lower_ms,
        upper_ms,
    )
}

/// The JQL a comment, worklog or changelog export searches its issues with.
#[must_use]
pub fn child_search_jql(spec: &ExportSpec, lower_ms: Option<i64>, upper_ms: i64) -> String {
    crate::issues::bounded_jql(spec.user_jql(), lower_ms, upper_ms)
}

/// `text` as a quoted JQL string, as imports write values into their searches.
#[must_use]
pub fn jql_string(text: &str) -> String {
    format!("\"{}\"", crate::import::run::jql_escape(text))
}

/// One issue of a scanned search page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssueSpan {
    /// Byte range of the issue's JSON object in the body.
    pub start: usize,
    /// End of that range.
    pub end: usize,
    /// The numeric id.
    pub id: u64,
    /// `fields.updated` in epoch milliseconds, when present.
    pub updated_ms: Option<i64>,
}

/// What the export's page scanner read from a `search/jql` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageScan {
    /// The issues, in order.
    pub issues: Vec<IssueSpan>,
    /// `nextPageToken`.
    pub next_page_token: Option<String>,
    /// `isLast`.
    pub is_last: Option<bool>,
    /// Byte range of `names`.
    pub names: Option<(usize, usize)>,
    /// Byte range of `schema`.
    pub schema: Option<(usize, usize)>,
}

/// Scans a `search/jql` answer as an export run does.
///
/// # Errors
/// What the run would report.
pub fn scan_search_page(body: &str) -> Result<PageScan, SyncError> {
    let page = crate::scan::scan_page(body)?;
    Ok(PageScan {
        issues: page
            .spans
            .iter()
            .map(|s| IssueSpan {
                start: s.start,
                end: s.end,
                id: s.id,
                updated_ms: s.updated_ms,
            })
            .collect(),
        next_page_token: page.next_page_token,
        is_last: page.is_last,
        names: page.names,
        schema: page.schema,
    })
}

/// The continuation read from a page's end, as the page reader guesses it before the scan.
#[must_use]
pub fn tail_continuation(body: &str) -> Option<Option<String>> {
    crate::scan::tail_continuation(body)
}

/// A Jira timestamp in epoch milliseconds, as the scanner reads `fields.updated`.
#[must_use]
pub fn jira_time_ms(text: &str) -> Option<i64> {
    crate::light::parse_jira_time(text)
}

// ------------------------------------------------------------------ ADF rules

fn kind(node: &Value) -> &str {
    node.get("type").and_then(Value::as_str).unwrap_or("")
}

fn children(node: &Value) -> &[Value] {
    node.get("content")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The children each node may hold (the subset of Atlassian's ADF JSON schema jiralink
/// writes), and whether it needs at least one.
fn allowed(parent: &str) -> (&'static [&'static str], bool) {
    const INLINE: &[&str] = &["text", "hardBreak"];
    match parent {
        "doc" => (
            &[
                "paragraph",
                "heading",
                "bulletList",
                "orderedList",
                "taskList",
                "codeBlock",
                "blockquote",
                "rule",
                "table",
            ],
            false,
        ),
        "paragraph" | "heading" | "taskItem" => (INLINE, false),
        "codeBlock" => (&["text"], false),
        "bulletList" | "orderedList" => (&["listItem"], true),
        "listItem" => (
            &[
                "paragraph",
                "bulletList",
                "orderedList",
                "taskList",
                "codeBlock",
            ],
            true,
        ),
        "blockquote" => (
            &["paragraph", "bulletList", "orderedList", "codeBlock"],
            true,
        ),
        "taskList" => (&["taskItem", "taskList"], true),
        "table" => (&["tableRow"], true),
        "tableRow" => (&["tableHeader", "tableCell"], true),
        "tableHeader" | "tableCell" => (&["paragraph"], true),
        _ => (&[], false),
    }
}

/// Every ADF rule the Markdown writer promises; `Err` names the first one broken.
///
/// # Errors
/// The first rule `doc` breaks.
pub fn check_adf(doc: &Value) -> Result<(), String> {
    if kind(doc) != "doc" || doc.get("version") != Some(&json!(1)) {
        return Err(format!("not a version 1 doc: {doc}"));
    }
    if !doc.get("content").is_some_and(Value::is_array) {
        return Err("doc without a content array".into());
    }
    let mut ids = HashSet::new();
    check_node(doc, &mut ids)
}

fn check_node(node: &Value, ids: &mut HashSet<String>) -> Result<(), String> {
    let parent = kind(node);
    let (kinds, needs_content) = allowed(parent);
    let content = children(node);
    if needs_content && content.is_empty() {
        return Err(format!("empty {parent}: {node}"));
    }
    for child in content {
        let k = kind(child);
        if !kinds.contains(&k) {
            return Err(format!("{k} inside {parent}: {node}"));
        }
        check_node(child, ids)?;
    }
    match parent {
        "text" => check_text(node)?,
        "codeBlock" if content.iter().any(|c| c.get("marks").is_some()) => {
            return Err(format!("marks in a code block: {node}"));
        }
        "heading" => {
            let level = node["attrs"]["level"].as_u64().unwrap_or(0);
            if !(1..=6).contains(&level) {
                return Err(format!("heading level {level}"));
            }
        }
        // The schema's first child of a list item: a paragraph, a code block or media (a
        // nested list may only follow).
        "listItem" if !matches!(kind(&content[0]), "paragraph" | "codeBlock") => {
            return Err(format!("list item starting with {}", kind(&content[0])));
        }
        "taskList" | "taskItem" => {
            let id = node["attrs"]["localId"].as_str().unwrap_or("");
            if id.is_empty() || !ids.insert(id.to_owned()) {
                return Err(format!("missing or repeated localId {id:?}"));
            }
            if parent == "taskList" && kind(&content[0]) != "taskItem" {
                return Err(format!("task list starting with a list: {node}"));
            }
            if parent == "taskItem"
                && !matches!(node["attrs"]["state"].as_str(), Some("TODO" | "DONE"))
            {
                return Err(format!("task state: {node}"));
            }
        }
        "orderedList" => {
            if let Some(order) = node.get("attrs").and_then(|a| a.get("order"))
                && (order.as_u64().is_none() || order == &json!(1))
            {
                return Err(format!("order attribute {order}"));
            }
        }
        _ => {}
    }
    Ok(())
}

fn check_text(node: &Value) -> Result<(), String> {
    let t = node.get("text").and_then(Value::as_str).unwrap_or("");
    if t.is_empty() {
        return Err(format!("empty text node: {node}"));
    }
    let marks: Vec<&str> = node
        .get("marks")
        .and_then(Value::as_array)
        .map(|m| m.iter().map(kind).collect())
        .unwrap_or_default();
    if node.get("marks").is_some() && marks.is_empty() {
        return Err(format!("empty marks: {node}"));
    }
    let unique: HashSet<&str> = marks.iter().copied().collect();
    if unique.len() != marks.len() {
        return Err(format!("a mark twice: {node}"));
    }
    for m in &marks {
        if !["em", "strong", "strike", "code", "link"].contains(m) {
            return Err(format!("unknown mark {m}: {node}"));
        }
    }
    if marks.contains(&"code") && marks.iter().any(|m| !["code", "link"].contains(m)) {
        return Err(format!("code with another mark than link: {node}"));
    }
    if let Some(link) = node["marks"]
        .as_array()
        .and_then(|m| m.iter().find(|m| kind(m) == "link"))
        && link["attrs"]["href"].as_str().is_none_or(str::is_empty)
    {
        return Err(format!("link without href: {node}"));
    }
    Ok(())
}
