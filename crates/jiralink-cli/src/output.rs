//! Printing results as tables (people) or JSON (scripts). Results go to stdout; notices,
//! prompts and errors to stderr, so `--output json | jq` always sees clean JSON.
//!
//! Everything the CLI prints goes through this module: [`outln!`] and [`errln!`] stand in for
//! `println!` and `eprintln!` (the crate warns about those elsewhere), and tables, details,
//! notices and JSON are printed here. Text can come from Jira (display names, site names,
//! Atlassian's error descriptions) or from other users (connection names), so before it
//! reaches a terminal [`terminal_text`] replaces every control character but the line break
//! and the tab, and every text-direction control, with U+FFFD: no escape sequence (ESC [,
//! OSC 8 links, BEL, CR, 8-bit C1) and no bidirectional override from anyone else can act on
//! the terminal. JSON keeps every value: serde already escapes C0 controls, and [`json`]
//! escapes C1 and text-direction controls as `\uXXXX`, which reads back the same.

use std::borrow::Cow;
use std::fmt::Arguments;
use std::io::Write as _;

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;
use serde_json::Value;

use crate::args::OutputFormat;
use crate::exit::CliError;

/// `println!` for the CLI: the line goes through [`terminal_text`].
macro_rules! outln {
    () => {
        $crate::output::print_out(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::print_out(format_args!($($arg)*))
    };
}

/// `eprintln!` for the CLI: the line goes through [`terminal_text`].
macro_rules! errln {
    () => {
        $crate::output::print_err(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::output::print_err(format_args!($($arg)*), true)
    };
}

/// `eprint!` for the CLI: the text goes through [`terminal_text`].
macro_rules! err {
    ($($arg:tt)*) => {
        $crate::output::print_err(format_args!($($arg)*), false)
    };
}

/// Whether `c` must not reach a terminal as it is: a control character other than the line
/// break and the tab (C0 with ESC, BEL and CR, DEL, C1), or a text-direction control.
fn unsafe_for_terminal(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || jiralink_app::is_text_direction_control(c)
}

/// `text` with every character a terminal would act on replaced by U+FFFD.
pub(crate) fn terminal_text(text: &str) -> Cow<'_, str> {
    if text.chars().any(unsafe_for_terminal) {
        Cow::Owned(
            text.chars()
                .map(|c| {
                    if unsafe_for_terminal(c) {
                        '\u{FFFD}'
                    } else {
                        c
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

/// JSON text as serde wrote it, with C1 and text-direction controls (which serde leaves as
/// they are) escaped: the same document, safe on a terminal. They can only occur inside
/// strings, where `\uXXXX` means the same character.
pub(crate) fn terminal_json(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_for_terminal) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if unsafe_for_terminal(c) {
            // Every such character is in the Basic Multilingual Plane.
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[allow(
    clippy::print_stdout,
    reason = "the one place the CLI writes to stdout, after terminal_text"
)]
pub(crate) fn print_out(args: Arguments<'_>) {
    // A reader that went away (`jiralink … | head`) ends the output, not the program with a
    // panic: the command's work is done either way.
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{}", terminal_text(&args.to_string())).is_err() {
        std::process::exit(crate::exit::BROKEN_PIPE);
    }
}

#[allow(
    clippy::print_stderr,
    reason = "the one place the CLI writes to stderr, after terminal_text"
)]
pub(crate) fn print_err(args: Arguments<'_>, newline: bool) {
    let text = args.to_string();
    let text = terminal_text(&text);
    if newline {
        eprintln!("{text}");
    } else {
        eprint!("{text}");
        std::io::stderr().flush().ok();
    }
}

/// Prints a secret shown once (a generated key or password) on its own line of stdout,
/// without copying it into memory that is not wiped.
#[allow(
    clippy::print_stdout,
    reason = "the value passes through terminal_text"
)]
pub(crate) fn print_secret(secret: &str) {
    println!("{}", terminal_text(secret));
}

/// Prints JSON for scripts on stdout.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Io(format!("could not format the result as JSON: {e}")))?;
    print_json(&text);
    Ok(())
}

/// JSON text (from serde) on stdout.
#[allow(
    clippy::print_stdout,
    reason = "JSON, made terminal-safe by terminal_json"
)]
pub(crate) fn print_json(text: &str) {
    println!("{}", terminal_json(text));
}

/// JSON text (from serde) on stderr, e.g. an error for scripts.
#[allow(
    clippy::print_stderr,
    reason = "JSON, made terminal-safe by terminal_json"
)]
pub(crate) fn print_json_err(text: &str) {
    eprintln!("{}", terminal_json(text));
}

pub(crate) fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        errln!("(none)");
        return;
    }
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(headers.iter().copied());
    for r in rows {
        t.add_row(r.iter().map(|cell| terminal_text(cell).into_owned()));
    }
    outln!("{t}");
}

/// Prints `key: value` lines, nesting objects by indentation.
pub(crate) fn details(pairs: &[(&str, String)]) {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in pairs {
        outln!("{k:<width$}  {v}");
    }
}

/// Renders any JSON value as indented `key: value` text.
pub(crate) fn tree(value: &Value) {
    let mut out = String::new();
    render(value, 0, &mut out);
    if let Some(body) = out.strip_suffix('\n') {
        outln!("{body}");
    } else if !out.is_empty() {
        outln!("{out}");
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn render(value: &Value, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::Object(_) => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        render(v, indent + 1, out);
                    }
                    Value::Array(items) if items.iter().any(|i| i.is_object()) => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        render(v, indent + 1, out);
                    }
                    Value::Array(items) => {
                        let joined: Vec<String> = items.iter().map(scalar).collect();
                        out.push_str(&format!("{pad}{k}: {}\n", joined.join(" ")));
                    }
                    _ => out.push_str(&format!("{pad}{k}: {}\n", scalar(v))),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                out.push_str(&format!("{pad}-\n"));
                render(item, indent + 1, out);
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

/// Prints notices for people; in JSON mode they still go to stderr, prefixed.
pub(crate) fn notices(notices: &[String], _format: OutputFormat) {
    for n in notices {
        errln!("note: {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a hostile Jira could put in a display name: none of it acts on the terminal.
    const HOSTILE: &str = "Al\u{1b}[31mice\u{1b}]8;;https://evil.example\u{7}link\u{1b}]8;;\u{7}\r\
                           Bob\u{9b}2J\u{202e}gnp.exe\u{7f}";

    #[test]
    fn terminal_text_replaces_what_a_terminal_acts_on() {
        let clean = terminal_text(HOSTILE);
        assert!(!clean.chars().any(unsafe_for_terminal), "{clean:?}");
        for c in ['\u{1b}', '\u{7}', '\r', '\u{9b}', '\u{202e}', '\u{7f}'] {
            assert!(!clean.contains(c), "{c:?} in {clean:?}");
        }
        assert!(clean.contains("Al\u{FFFD}[31mice"), "{clean}");
        assert_eq!(
            terminal_text("line one\n\tline two ✓ ジラ"),
            "line one\n\tline two ✓ ジラ"
        );
        assert!(matches!(terminal_text("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn terminal_json_escapes_and_reads_back_the_same() {
        let value = serde_json::json!({"displayName": HOSTILE});
        let text = serde_json::to_string(&value).unwrap();
        let safe = terminal_json(&text);
        assert!(!safe.chars().any(unsafe_for_terminal), "{safe}");
        let back: Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn tree_renders_nested_values() {
        let mut out = String::new();
        render(
            &serde_json::json!({"a": 1, "b": {"c": "x"}, "d": ["p", "q"]}),
            0,
            &mut out,
        );
        assert_eq!(out, "a: 1\nb:\n  c: x\nd: p q\n");
    }
}
