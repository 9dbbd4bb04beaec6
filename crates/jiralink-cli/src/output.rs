//! Printing results as tables (people) or JSON (scripts). Results go to stdout; notices,
//! prompts and errors to stderr, so `--output json | jq` always sees clean JSON.

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;
use serde_json::Value;

use crate::args::OutputFormat;
use crate::exit::CliError;

pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Io(format!("could not format the result as JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

pub(crate) fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        eprintln!("(none)");
        return;
    }
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(headers.iter().copied());
    for r in rows {
        t.add_row(r);
    }
    println!("{t}");
}

/// Prints `key: value` lines, nesting objects by indentation.
pub(crate) fn details(pairs: &[(&str, String)]) {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in pairs {
        println!("{k:<width$}  {v}");
    }
}

/// Renders any JSON value as indented `key: value` text.
pub(crate) fn tree(value: &Value) {
    let mut out = String::new();
    render(value, 0, &mut out);
    print!("{out}");
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
        eprintln!("note: {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
