//! One pass over a `search/jql` answer: where each issue's JSON text starts and ends, and its
//! `id`, `key` and `fields.updated`, without a general parser and without copying.
//!
//! The scanner follows JSON's structure (objects, arrays, strings with escapes, scalars) and
//! reads only the members it needs; everything else is skipped byte by byte. It does not check
//! every rule of JSON (the text came from Jira as JSON); a body it cannot follow is an error.

use crate::{error::SyncError, light::parse_jira_time};

/// One issue of a scanned page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    /// Byte range of the issue's JSON object in the body.
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// The numeric id.
    pub(crate) id: u64,
    /// `fields.updated` in epoch milliseconds, when present.
    pub(crate) updated_ms: Option<i64>,
}

/// What a search page holds.
#[derive(Debug, Default)]
pub(crate) struct ScannedPage {
    pub(crate) spans: Vec<Span>,
    pub(crate) next_page_token: Option<String>,
    pub(crate) is_last: Option<bool>,
    /// Byte ranges of the page-level `names` and `schema`.
    pub(crate) names: Option<(usize, usize)>,
    pub(crate) schema: Option<(usize, usize)>,
}

fn bad(what: &str) -> SyncError {
    SyncError::Decode(format!("a search page Jira sent ({what})"))
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn ws(&mut self) {
        while self
            .b
            .get(self.i)
            .is_some_and(|c| matches!(c, b' ' | b'\n' | b'\r' | b'\t'))
        {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), SyncError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(bad("unexpected character"))
        }
    }

    /// Skips a string starting at `self.i` (at its quote); returns the range inside the quotes
    /// and whether it holds escapes.
    fn string(&mut self) -> Result<(usize, usize, bool), SyncError> {
        if self.b.get(self.i) != Some(&b'"') {
            return Err(bad("a string was expected"));
        }
        let start = self.i + 1;
        let mut j = start;
        let mut escaped = false;
        loop {
            match self.b.get(j) {
                None => return Err(bad("a string is not closed")),
                Some(b'"') => {
                    self.i = j + 1;
                    return Ok((start, j, escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    j += 2;
                }
                Some(_) => j += 1,
            }
        }
    }

    /// Skips any value; returns its range.
    fn value(&mut self) -> Result<(usize, usize), SyncError> {
        let start = match self.peek() {
            Some(_) => self.i,
            None => return Err(bad("a value was expected")),
        };
        match self.b[start] {
            b'"' => {
                self.string()?;
            }
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.b.get(self.i) {
                        None => return Err(bad("an object or array is not closed")),
                        Some(b'"') => {
                            self.string()?;
                            continue;
                        }
                        Some(b'{' | b'[') => depth += 1,
                        Some(b'}' | b']') => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                break;
                            }
                        }
                        Some(_) => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                while self.b.get(self.i).is_some_and(|c| {
                    !matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                }) {
                    self.i += 1;
                }
                if self.i == start {
                    return Err(bad("a value was expected"));
                }
            }
        }
        Ok((start, self.i))
    }

    /// Walks an object's members, calling `member(scanner, key)` with the scanner at each
    /// value; `member` must consume the value.
    fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, &'a [u8]) -> Result<(), SyncError>,
    ) -> Result<(), SyncError> {
        self.expect(b'{')?;
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let (ks, ke, _) = self.string()?;
            let key = &self.b[ks..ke];
            self.expect(b':')?;
            self.ws();
            member(self, key)?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(bad("a member list is not closed")),
            }
        }
    }

    /// The text of a string value (unescaped when it has escapes).
    fn string_value(&mut self) -> Result<String, SyncError> {
        let (s, e, escaped) = self.string()?;
        let text = std::str::from_utf8(&self.b[s..e]).map_err(|_| bad("not UTF-8"))?;
        if escaped {
            serde_json::from_str(&format!("\"{text}\"")).map_err(|_| bad("a bad escape"))
        } else {
            Ok(text.to_owned())
        }
    }

    fn issue(&mut self) -> Result<Span, SyncError> {
        self.ws();
        let start = self.i;
        let mut id = None;
        let mut updated = None;
        self.object(|s, key| {
            match key {
                b"id" => {
                    let text = if s.b.get(s.i) == Some(&b'"') {
                        s.string_value()?
                    } else {
                        let (a, z) = s.value()?;
                        String::from_utf8_lossy(&s.b[a..z]).into_owned()
                    };
                    id = Some(text.parse::<u64>().map_err(|_| bad("an issue id"))?);
                }
                b"fields" if s.b.get(s.i) == Some(&b'{') => {
                    s.object(|s, key| {
                        if key == b"updated" && s.b.get(s.i) == Some(&b'"') {
                            let text = s.string_value()?;
                            updated =
                                Some(parse_jira_time(&text).ok_or_else(|| bad("an update time"))?);
                        } else {
                            s.value()?;
                        }
                        Ok(())
                    })?;
                }
                _ => {
                    s.value()?;
                }
            }
            Ok(())
        })?;
        Ok(Span {
            start,
            end: self.i,
            id: id.ok_or_else(|| bad("an issue without an id"))?,
            updated_ms: updated,
        })
    }
}

/// Scans a search page. A page without an `issues` array is refused, never read as an empty
/// last page: an answer that is not a search page must not end a run as if it were complete.
pub(crate) fn scan_page(body: &str) -> Result<ScannedPage, SyncError> {
    let mut s = Scanner {
        b: body.as_bytes(),
        i: 0,
    };
    let mut page = ScannedPage::default();
    let mut has_issues = false;
    s.object(|s, key| {
        match key {
            b"issues" => {
                if s.b.get(s.i) != Some(&b'[') {
                    return Err(bad("`issues` is not a list"));
                }
                has_issues = true;
                s.i += 1;
                if s.peek() == Some(b']') {
                    s.i += 1;
                    return Ok(());
                }
                loop {
                    page.spans.push(s.issue()?);
                    match s.peek() {
                        Some(b',') => s.i += 1,
                        Some(b']') => {
                            s.i += 1;
                            return Ok(());
                        }
                        _ => return Err(bad("the issue list is not closed")),
                    }
                }
            }
            b"nextPageToken" if s.b.get(s.i) == Some(&b'"') => {
                page.next_page_token = Some(s.string_value()?);
            }
            b"isLast" => {
                let (a, z) = s.value()?;
                page.is_last = Some(&s.b[a..z] == b"true");
            }
            b"names" => page.names = Some(s.value()?),
            b"schema" => page.schema = Some(s.value()?),
            _ => {
                s.value()?;
            }
        }
        Ok(())
    })?;
    if !has_issues {
        return Err(bad("no `issues` member"));
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn finds_issues_and_their_heads() {
        let body = r#" {"expand":"x","issues":[ {"id":"10001","key":"A-1","fields":{"comment":{"comments":[{"updated":"1999-01-01T00:00:00.000+0000"}]},"updated":"2026-01-05T09:30:00.000+0000","s":"a \"}\\"}},{"id":"7","fields":{}} ],"nextPageToken":"t\u0031","isLast":false,"names":{"a":"b"}}"#;
        let page = scan_page(body).unwrap();
        assert_eq!(page.spans.len(), 2);
        let first = page.spans[0];
        assert_eq!(first.id, 10001);
        assert_eq!(first.updated_ms, Some(1_767_605_400_000));
        let text = &body[first.start..first.end];
        assert_eq!(
            serde_json::from_str::<Value>(text).unwrap()["key"],
            json!("A-1")
        );
        assert_eq!(page.spans[1].updated_ms, None);
        assert_eq!(
            &body[page.spans[1].start..page.spans[1].end],
            r#"{"id":"7","fields":{}}"#
        );
        assert_eq!(page.next_page_token.as_deref(), Some("t1"));
        assert_eq!(page.is_last, Some(false));
        let (a, z) = page.names.unwrap();
        assert_eq!(&body[a..z], r#"{"a":"b"}"#);
        assert!(scan_page(r#"{"issues":[{"key":"x"}]}"#).is_err());
        assert!(scan_page(r#"{"issues":[{"id":"1""#).is_err());
        assert_eq!(scan_page(r#"{"issues":[]}"#).unwrap().spans.len(), 0);
    }

    #[test]
    fn a_page_without_issues_is_a_decode_error_not_an_empty_last_page() {
        for body in [
            r#"{"isLast":true}"#,
            "{}",
            r#"{"errorMessages":["x"],"errors":{}}"#,
            r#"{"issues":null,"isLast":true}"#,
            r#"{"issues":{},"isLast":true}"#,
        ] {
            let err = scan_page(body).err();
            assert!(matches!(err, Some(SyncError::Decode(_))), "{body}: {err:?}");
        }
        let page = scan_page(r#"{"isLast":true,"issues":[]}"#).unwrap();
        assert_eq!(page.spans.len(), 0);
        assert_eq!(page.is_last, Some(true));
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-z\"\\\\{}\\[\\],: \u{e9}\n]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z\"]{1,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn agrees_with_serde_on_any_page(
            issues in proptest::collection::vec((any::<u32>(), json_value(), json_value()), 0..5),
            pretty in any::<bool>(),
        ) {
            let list: Vec<Value> = issues
                .iter()
                .map(|(id, extra, field)| json!({
                    "extra": extra,
                    "id": id.to_string(),
                    "fields": {"other": field, "updated": "2026-01-05T09:30:00.000+0000", "z": field},
                }))
                .collect();
            let page = json!({"startAt": 0, "issues": list, "nextPageToken": "n", "more": issues.first().map(|i| i.1.clone())});
            let body = if pretty { serde_json::to_string_pretty(&page) } else { serde_json::to_string(&page) }.unwrap();
            let scanned = scan_page(&body).unwrap();
            prop_assert_eq!(scanned.spans.len(), list.len());
            for (span, issue) in scanned.spans.iter().zip(&list) {
                let text: Value = serde_json::from_str(&body[span.start..span.end]).unwrap();
                prop_assert_eq!(&text, issue);
                prop_assert_eq!(span.id.to_string(), issue["id"].as_str().unwrap());
                prop_assert_eq!(span.updated_ms, Some(1_767_605_400_000));
            }
            prop_assert_eq!(scanned.next_page_token.as_deref(), Some("n"));
        }
    }
}
