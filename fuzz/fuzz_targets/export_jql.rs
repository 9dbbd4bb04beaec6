//! The JQL an export searches with: the export's own JQL (and issue ids) inside the run's
//! update-time bounds and order; and the quoted strings imports write into their searches.
//!
//! Invariants: for every export definition validation accepts, the export's JQL stays inside
//! its parentheses (no quote or bracket of it reaches the bounds, so it can neither widen nor
//! cut the search) and the bounds and `ORDER BY` follow unchanged; a quoted string reads back,
//! as JQL reads strings, as exactly the text it quotes.
#![no_main]

use arbitrary::Arbitrary;
use jiralink_fuzz::{Seed, seed};
use jiralink_sync::{ExportSpec, Resource, fuzzing};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    jql: Option<String>,
    issue_ids: Vec<u64>,
    lower_ms: Option<i64>,
    upper_ms: i64,
    children: bool,
    text: String,
}

fuzz_target!(|data: &[u8]| {
    let input = match seed::<Input>(data) {
        Some(Seed::Raw { kind, bytes }) => {
            let text = String::from_utf8_lossy(bytes).into_owned();
            Input {
                jql: Some(text.clone()),
                issue_ids: Vec::new(),
                lower_ms: (kind % 2 == 1).then_some(1_767_000_000_000),
                upper_ms: 1_767_605_400_000,
                children: kind % 4 >= 2,
                text,
            }
        }
        Some(Seed::Structured(input)) => input,
        None => return,
    };
    let mut spec = ExportSpec::new(if input.children {
        Resource::Comments
    } else {
        Resource::Issues
    });
    spec.jql = input.jql;
    if !input.children {
        spec.issue_ids = input.issue_ids;
    }
    if spec.validate().is_ok() {
        let jql = if input.children {
            fuzzing::child_search_jql(&spec, input.lower_ms, input.upper_ms)
        } else {
            fuzzing::export_search_jql(&spec, input.lower_ms, input.upper_ms)
        };
        let mut bounds = String::new();
        if let Some(lower) = input.lower_ms {
            bounds.push_str(&format!("updated >= {lower} AND "));
        }
        bounds.push_str(&format!(
            "updated <= {} ORDER BY updated ASC, key ASC",
            input.upper_ms
        ));
        let narrowed = spec.user_jql().is_some() || !spec.issue_ids.is_empty();
        if narrowed {
            let user_end = jql.len() - bounds.len() - " AND ".len();
            assert!(
                jql.ends_with(&format!(") AND {bounds}")),
                "bounds changed: {jql}"
            );
            assert!(jql.starts_with('('), "{jql}");
            assert_eq!(
                closing_paren(&jql),
                Some(user_end - 1),
                "the export's JQL escapes its parentheses: {jql}"
            );
        } else {
            assert_eq!(jql, bounds);
        }
    }

    let quoted = fuzzing::jql_string(&input.text);
    assert_eq!(
        read_string(&quoted),
        Some(input.text.clone()),
        "{:?} quoted as {quoted}",
        input.text
    );
});

/// Where the parenthesis opening `jql` closes, reading it as JQL does: strings in `"…"` or
/// `'…'`, and a backslash escaping the next character inside strings and out; `None` when it
/// never closes outside a string.
fn closing_paren(jql: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in jql.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            (None, _) => {}
        }
    }
    None
}

/// The text of a JQL string literal that is the whole of `jql`, `None` when it is not one.
fn read_string(jql: &str) -> Option<String> {
    let inner = jql.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return chars.next().is_none().then_some(out),
            c => out.push(c),
        }
    }
    None
}
