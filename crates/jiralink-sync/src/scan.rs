//! One pass over a `search/jql` answer: where each issue's JSON text starts and ends, and its
//! `id`, `key` and `fields.updated`, without a general parser and without copying.
//!
//! The scanner follows JSON's structure (objects, arrays, strings with escapes, scalars) and
//! reads only the members it needs; everything else is skipped in a tight loop that only tells
//! strings from brackets. It does not check every rule of JSON (the text came from Jira as
//! JSON); a body it cannot follow is an error.

use jiralink_atlassian::search_continuation;

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

/// What the scanner could not follow; the entry point that was reading says in what.
#[derive(Debug)]
struct Bad(&'static str);

fn bad(what: &'static str) -> Bad {
    Bad(what)
}

/// `read` of `body`, its problem reported as a decode error of `what` (what was read).
fn reading<T>(what: &str, read: impl FnOnce() -> Result<T, Bad>) -> Result<T, SyncError> {
    read().map_err(|Bad(problem)| SyncError::Decode(format!("{what} ({problem})")))
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

    fn expect(&mut self, c: u8) -> Result<(), Bad> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(bad("unexpected character"))
        }
    }

    /// Skips a string starting at `self.i` (at its quote); returns the range inside the quotes
    /// and whether it holds escapes.
    fn string(&mut self) -> Result<(usize, usize, bool), Bad> {
        if self.b.get(self.i) != Some(&b'"') {
            return Err(bad("a string was expected"));
        }
        let start = self.i + 1;
        let mut j = start;
        let mut escaped = false;
        // A plain loop: most strings of an issue are short, where a byte at a time beats
        // searching (measured: `memchr` calls per string cost half as much again).
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
    fn value(&mut self) -> Result<(usize, usize), Bad> {
        let start = match self.peek() {
            Some(_) => self.i,
            None => return Err(bad("a value was expected")),
        };
        match self.b[start] {
            b'"' => {
                self.string()?;
            }
            open @ (b'{' | b'[') => {
                // Brackets of the other kind nest inside and balance on their own, so only
                // this kind is counted (outside strings).
                let close = if open == b'{' { b'}' } else { b']' };
                self.i = skip_container(self.b, start, open, close)
                    .ok_or_else(|| bad("an object or array is not closed"))?;
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
        mut member: impl FnMut(&mut Self, &'a [u8]) -> Result<(), Bad>,
    ) -> Result<(), Bad> {
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
    fn string_value(&mut self) -> Result<String, Bad> {
        let (s, e, escaped) = self.string()?;
        let text = std::str::from_utf8(&self.b[s..e]).map_err(|_| bad("not UTF-8"))?;
        if escaped {
            serde_json::from_str(&format!("\"{text}\"")).map_err(|_| bad("a bad escape"))
        } else {
            Ok(text.to_owned())
        }
    }

    fn issue(&mut self) -> Result<Span, Bad> {
        self.issue_and_key(None)
    }

    /// An `issues` list, each issue's span added to `out`.
    fn issue_list(&mut self, out: &mut Vec<Span>) -> Result<(), Bad> {
        if self.b.get(self.i) != Some(&b'[') {
            return Err(bad("`issues` is not a list"));
        }
        self.i += 1;
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            out.push(self.issue()?);
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(bad("the issue list is not closed")),
            }
        }
    }

    /// An issue's span and head; its `key` too when `key_out` asks for it.
    fn issue_and_key(&mut self, mut key_out: Option<&mut Option<String>>) -> Result<Span, Bad> {
        self.ws();
        let start = self.i;
        let mut id = None;
        let mut updated = None;
        self.object(|s, key| {
            match key {
                b"key" if key_out.is_some() && s.b.get(s.i) == Some(&b'"') => {
                    let text = s.string_value()?;
                    if let Some(out) = key_out.as_deref_mut() {
                        *out = Some(text);
                    }
                }
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

/// The end of the object or array opening at `i` (`open`/`close` its brackets), strings
/// skipped; `None` when it is not closed.
fn skip_container(b: &[u8], mut i: usize, open: u8, close: u8) -> Option<usize> {
    let mut depth = 0usize;
    while let Some(&c) = b.get(i) {
        i += 1;
        if c == b'"' {
            loop {
                let c = *b.get(i)?;
                i += 1;
                if c == b'\\' {
                    i += 1;
                } else if c == b'"' {
                    break;
                }
            }
        } else if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// Scans a search page. A page without an `issues` array is refused, never read as an empty
/// last page: an answer that is not a search page must not end a run as if it were complete.
pub(crate) fn scan_page(body: &str) -> Result<ScannedPage, SyncError> {
    reading("a search page Jira sent", || {
        let mut s = Scanner {
            b: body.as_bytes(),
            i: 0,
        };
        let mut page = ScannedPage::default();
        let mut has_issues = false;
        s.object(|s, key| {
            match key {
                b"issues" => {
                    has_issues = true;
                    s.issue_list(&mut page.spans)?;
                }
                b"nextPageToken" if s.b.get(s.i) == Some(&b'"') => {
                    page.next_page_token = Some(s.string_value()?);
                }
                b"isLast" => {
                    let (a, z) = s.value()?;
                    page.is_last = (&s.b[a..z] != b"null").then(|| &s.b[a..z] == b"true");
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
    })
}

/// An `issue/bulkfetch` answer: its issues' spans and its `issueErrors` entries (both lists
/// may be missing, which reads as empty).
pub(crate) fn scan_bulk(body: &str) -> Result<(Vec<Span>, Vec<serde_json::Value>), SyncError> {
    reading("a bulk fetch answer Jira sent", || {
        let mut s = Scanner {
            b: body.as_bytes(),
            i: 0,
        };
        let mut spans = Vec::new();
        let mut errors = None;
        s.object(|s, key| {
            match key {
                b"issues" => s.issue_list(&mut spans)?,
                b"issueErrors" => errors = Some(s.value()?),
                _ => {
                    s.value()?;
                }
            }
            Ok(())
        })?;
        let errors = match errors {
            None => Vec::new(),
            Some((a, z)) => serde_json::from_str(&body[a..z])
                .map_err(|_| bad("`issueErrors` is not a list of entries"))?,
        };
        Ok((spans, errors))
    })
}

/// One issue's JSON text: its span (the whole text), `id`, `fields.updated` and `key`.
pub(crate) fn scan_issue(text: &str) -> Result<(Span, Option<String>), SyncError> {
    reading("an issue Jira sent", || {
        let mut s = Scanner {
            b: text.as_bytes(),
            i: 0,
        };
        let mut key = None;
        let span = s.issue_and_key(Some(&mut key))?;
        s.ws();
        if s.i != s.b.len() {
            return Err(bad("text after the issue"));
        }
        Ok((span, key))
    })
}

/// Where a search continues ([`search_continuation`], the client's rule).
///
/// # Errors
/// [`SyncError::Jira`] for a page that says more follow but has no token.
pub(crate) fn next_page(
    is_last: Option<bool>,
    token: Option<String>,
) -> Result<Option<String>, SyncError> {
    Ok(search_continuation(is_last, token)?)
}

/// The page's continuation, read from its end without walking the issues: Jira puts `isLast`
/// and `nextPageToken` after the issue list (`{"issues":[…],"isLast":false,"nextPageToken":"…"}`,
/// in either order), so the page reader can ask for the next page while the writer scans this
/// one. `None` unless the members from the earlier of the last `"isLast"` and the last
/// `"nextPageToken"` key to the end are scalar members of the outermost object, `isLast` among
/// them, followed by its closing brace; the caller then scans the whole page.
/// [`scan_page`] stays the authority: the writer compares its result with this.
pub(crate) fn tail_continuation(body: &str) -> Option<Option<String>> {
    let b = body.as_bytes();
    let is_last_at = memchr::memmem::rfind(b, b"\"isLast\"")?;
    let at =
        memchr::memmem::rfind(b, b"\"nextPageToken\"").map_or(is_last_at, |t| t.min(is_last_at));
    // A key's opening quote follows `{` or `,`; a match elsewhere is inside another key.
    let before = b[..at]
        .iter()
        .rev()
        .find(|c| !matches!(c, b' ' | b'\n' | b'\r' | b'\t'));
    if !matches!(before, Some(b',' | b'{')) {
        return None;
    }
    let mut s = Scanner { b, i: at };
    let (mut token, mut is_last) = (None, None);
    loop {
        let (ks, ke, _) = s.string().ok()?;
        let key = &b[ks..ke];
        s.expect(b':').ok()?;
        s.ws();
        match (key, s.b.get(s.i)?) {
            (b"nextPageToken", b'"') => token = Some(s.string_value().ok()?),
            (_, b'{' | b'[') => return None,
            (b"isLast", _) => {
                let (a, z) = s.value().ok()?;
                // `null` reads as missing, as the client's typed reader has it.
                is_last = (&b[a..z] != b"null").then(|| &b[a..z] == b"true");
            }
            _ => {
                s.value().ok()?;
            }
        }
        match s.peek()? {
            b',' => {
                s.i += 1;
                s.ws();
            }
            b'}' => {
                s.i += 1;
                s.ws();
                // `isLast` must be among these members: one before the issues would say
                // whether the token counts.
                // A page the rule refuses is left to the full scan, which reports it.
                return (s.i == b.len() && is_last.is_some())
                    .then(|| next_page(is_last, token).ok())
                    .flatten();
            }
            _ => return None,
        }
    }
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

    #[test]
    fn the_next_page_is_read_from_the_end_only_when_the_end_says_it_plainly() {
        let issue = r#"{"id":"1","fields":{"updated":"2026-01-05T09:30:00.000+0000"}}"#;
        for (body, expected) in [
            (
                format!(r#"{{"issues":[{issue}],"nextPageToken":"abc","isLast":false}}"#),
                Some(Some("abc".to_owned())),
            ),
            (
                format!(
                    "{{\n \"issues\": [{issue}],\n \"nextPageToken\" : \"a\\u0062c\",\n \"isLast\": false\n}}\n"
                ),
                Some(Some("abc".to_owned())),
            ),
            (
                format!(r#"{{"issues":[{issue}],"nextPageToken":"abc","isLast":true}}"#),
                Some(None),
            ),
            (
                format!(r#"{{"issues":[{issue}],"isLast":false,"nextPageToken":"abc"}}"#),
                Some(Some("abc".to_owned())),
            ),
            (
                format!(r#"{{"issues":[{issue}],"isLast":true}}"#),
                Some(None),
            ),
            // More pages said to follow, but no token: left to the full scan, which refuses it.
            (
                format!(r#"{{"issues":[{issue}],"nextPageToken":"","isLast":false}}"#),
                None,
            ),
            // Without `isLast` at the end, an earlier one might say the page is the last.
            (
                format!(r#"{{"issues":[{issue}],"nextPageToken":"abc"}}"#),
                None,
            ),
            (
                format!(r#"{{"isLast":true,"issues":[{issue}],"nextPageToken":"abc"}}"#),
                None,
            ),
            // The token before the issues: the end does not say it.
            (
                format!(r#"{{"nextPageToken":"abc","issues":[{issue}],"isLast":false}}"#),
                None,
            ),
            // A nested `nextPageToken` member is not the page's.
            (
                r#"{"issues":[{"id":"1","fields":{"nextPageToken":"x"}}],"isLast":true}"#
                    .to_owned(),
                None,
            ),
            (
                r#"{"issues":[{"id":"1","nextPageToken":"x","isLast":true}]}"#.to_owned(),
                None,
            ),
            // An object after the token: scan the whole page.
            (
                format!(r#"{{"issues":[{issue}],"nextPageToken":"abc","names":{{}}}}"#),
                None,
            ),
            (
                format!(r#"{{"issues":[{issue}],"nextPageToken":"abc""#),
                None,
            ),
            (format!(r#"{{"issues":[{issue}],"isLast":false}} x"#), None),
            // Inside another key: `"a\"nextPageToken"` is one key.
            (
                format!(r#"{{"issues":[{issue}],"a\"nextPageToken":"x","isLast":false}}"#),
                None,
            ),
        ] {
            assert_eq!(tail_continuation(&body), expected, "{body}");
            if body.contains(r#""nextPageToken":"","isLast":false"#) {
                let page = scan_page(&body).unwrap();
                assert!(next_page(page.is_last, page.next_page_token).is_err());
            }
            if let (Some(expected), Ok(page)) = (expected, scan_page(&body)) {
                assert_eq!(
                    next_page(page.is_last, page.next_page_token).unwrap(),
                    expected
                );
            }
        }
    }

    #[test]
    fn bulk_answers_and_single_issues_are_scanned_too() {
        let body = r#"{"issues":[{"id":"3","key":"A-3","fields":{"updated":"2026-01-05T09:30:00.000+0000"}},{"id":"1","fields":{}}],"issueErrors":[{"id":"2","errorMessage":"gone"}]}"#;
        let (spans, errors) = scan_bulk(body).unwrap();
        assert_eq!(spans.iter().map(|s| s.id).collect::<Vec<_>>(), vec![3, 1]);
        assert_eq!(
            &body[spans[1].start..spans[1].end],
            r#"{"id":"1","fields":{}}"#
        );
        assert_eq!(errors, vec![json!({"id": "2", "errorMessage": "gone"})]);
        let (spans, errors) = scan_bulk("{}").unwrap();
        assert!(spans.is_empty() && errors.is_empty());
        assert!(scan_bulk(r#"{"issues":[],"issueErrors":"x"}"#).is_err());
        assert!(scan_bulk(r#"{"issues":[{"key":"A-1"}]}"#).is_err());

        let (span, key) = scan_issue(r#" {"id":"3","key":"A-\u0033","fields":{}} "#).unwrap();
        assert_eq!((span.id, key.as_deref()), (3, Some("A-3")));
        assert!(scan_issue(r#"{"id":"3"} {"id":"4"}"#).is_err());
        assert!(scan_issue(r#"{"id":"3""#).is_err());
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
                proptest::collection::btree_map(
                    prop_oneof![
                        "[a-z\"]{1,6}",
                        Just("nextPageToken".to_owned()),
                        Just("isLast".to_owned())
                    ],
                    inner,
                    0..4,
                )
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
            // Read from the end, the next page is the full scan's or not claimed at all.
            if let Some(next) = tail_continuation(&body) {
                prop_assert_eq!(Ok(next), next_page(scanned.is_last, scanned.next_page_token.clone()).map_err(|e| e.to_string()));
            }
        }

        #[test]
        fn the_end_of_a_page_never_claims_another_next_page(
            issues in proptest::collection::vec(json_value(), 0..4),
            before in json_value(),
            after in json_value(),
            last in any::<bool>(),
        ) {
            let list: Vec<Value> = issues
                .iter()
                .enumerate()
                .map(|(i, v)| json!({"id": i.to_string(), "fields": {"v": v}}))
                .collect();
            let text = |v: &Value| serde_json::to_string(v).unwrap();
            let (list, before, after) = (text(&Value::Array(list)), text(&before), text(&after));
            // Members in a chosen order (a JSON map would sort them).
            for body in [
                format!(r#"{{"issues":{list},"isLast":{last},"nextPageToken":"n"}}"#),
                format!(r#"{{"issues":{list},"nextPageToken":"n","isLast":{last},"z":{after}}}"#),
                format!(r#"{{"isLast":{last},"issues":{list},"nextPageToken":"n","z":{after}}}"#),
                format!(r#"{{"a":{before},"issues":{list},"isLast":{last}}}"#),
                format!(r#"{{"nextPageToken":"n","issues":{list},"isLast":{last},"z":{after}}}"#),
                format!(r#"{{"issues":{list},"nextPageToken":{after},"isLast":{last}}}"#),
            ] {
                let scanned = scan_page(&body).unwrap();
                if let Some(next) = tail_continuation(&body) {
                    prop_assert_eq!(Ok(next), next_page(scanned.is_last, scanned.next_page_token).map_err(|e| e.to_string()));
                }
            }
        }
    }
}
