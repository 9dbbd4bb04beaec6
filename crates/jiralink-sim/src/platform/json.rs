//! A small JSON writer for hot responses: issues in search pages are written straight into one
//! `String` instead of building `serde_json::Value` trees, which keeps a page of a hundred
//! issues with every field well under a millisecond.

use std::fmt::Write as _;

use serde_json::Value;

/// Appends `s` as a JSON string literal.
pub fn push_str(out: &mut String, s: &str) {
    out.push('"');
    escape_into(out, s);
    out.push('"');
}

/// Appends the escaped characters of `s` without quotes.
fn escape_into(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    // Most strings (links, names, ids) need no escaping; a branch-free scan finds that quickly.
    let clean = bytes.chunks(16).all(|chunk| {
        !chunk.iter().fold(false, |acc, &b| {
            acc | (b < 0x20) | (b == b'"') | (b == b'\\')
        })
    });
    if clean {
        out.push_str(s);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// Appends a `serde_json::Value` (compact, like `serde_json::to_string`).
pub fn push_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => push_str(out, s),
        Value::Array(items) => push_array(out, items, push_value),
        Value::Object(map) => {
            out.push('{');
            for (n, (k, v)) in map.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                push_str(out, k);
                out.push(':');
                push_value(out, v);
            }
            out.push('}');
        }
    }
}

/// Appends the concatenation of `parts` as one JSON string (links without a `format!`).
pub fn push_concat(out: &mut String, parts: &[&str]) {
    out.push('"');
    for part in parts {
        escape_into(out, part);
    }
    out.push('"');
}

/// Writes an object member by member; [`Obj::end`] closes it.
#[derive(Debug)]
pub struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    /// Opens an object.
    pub fn new(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, first: true }
    }

    /// Writes `"key":` and returns the buffer for the value.
    pub fn key(&mut self, key: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_str(self.out, key);
        self.out.push(':');
        self.out
    }

    /// A string member.
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        let out = self.key(key);
        push_str(out, value);
        self
    }

    /// A string member made of `parts`.
    pub fn concat(&mut self, key: &str, parts: &[&str]) -> &mut Self {
        let out = self.key(key);
        push_concat(out, parts);
        self
    }

    /// A string member, or `null`.
    pub fn opt_str(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.str(key, v),
            None => self.raw(key, "null"),
        }
    }

    /// A member whose value is already JSON.
    pub fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key).push_str(json);
        self
    }

    /// A number member.
    pub fn num(&mut self, key: &str, value: impl std::fmt::Display) -> &mut Self {
        let out = self.key(key);
        let _ = write!(out, "{value}");
        self
    }

    /// A boolean member.
    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.raw(key, if value { "true" } else { "false" })
    }

    /// A `serde_json::Value` member.
    pub fn value(&mut self, key: &str, value: &Value) -> &mut Self {
        let out = self.key(key);
        push_value(out, value);
        self
    }

    /// Closes the object.
    pub fn end(self) {
        self.out.push('}');
    }
}

/// Writes `items` as an array with `f` writing each element.
pub fn push_array<T>(
    out: &mut String,
    items: impl IntoIterator<Item = T>,
    mut f: impl FnMut(&mut String, T),
) {
    out.push('[');
    for (n, item) in items.into_iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        f(out, item);
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_like_serde_json() {
        for s in [
            "plain",
            "quote \" and \\ slash",
            "line\nbreak\ttab",
            "\u{1}ctl",
            "ünïcödé ✓",
        ] {
            let mut out = String::new();
            push_str(&mut out, s);
            let back: String = serde_json::from_str(&out).expect("valid JSON");
            assert_eq!(back, s);
        }
    }

    #[test]
    fn values_serialize_like_serde_json() {
        let v = serde_json::json!({"a":[1,2.5,-3,true,null,"x\"y"],"b":{"c":{}},"d":[]});
        let mut out = String::new();
        push_value(&mut out, &v);
        assert_eq!(out, v.to_string());
        let mut out = String::new();
        push_concat(&mut out, &["a/", "b\"c", "/1"]);
        assert_eq!(out, r#""a/b\"c/1""#);
    }

    #[test]
    fn objects_and_arrays() {
        let mut out = String::new();
        let mut o = Obj::new(&mut out);
        o.str("a", "x")
            .num("b", 2)
            .bool("c", true)
            .opt_str("d", None);
        push_array(o.key("e"), [1, 2], |out, n| out.push_str(&n.to_string()));
        o.end();
        assert_eq!(out, r#"{"a":"x","b":2,"c":true,"d":null,"e":[1,2]}"#);
    }
}
