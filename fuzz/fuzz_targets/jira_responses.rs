//! Jira's answers as the client and the export read them: `search/jql` pages (typed, raw, and
//! by the export's own page scanner), one issue, the OAuth 2.0 token answer, and the answer to
//! a bulk create.
//!
//! Invariants: nothing panics; no error repeats the request's secret; the three readers of a
//! search page agree on its issues, their ids and update times, and where the search goes
//! next, and each issue's span is exactly its JSON; an issue survives a JSON round trip; an
//! accepted token answer has a non-empty access token, expires within a year of now, and its
//! `Debug` shows no token; a bulk answer places exactly one outcome at each input, the
//! created issues in Jira's order.
#![no_main]

use arbitrary::Arbitrary;
use jiralink_atlassian::{
    AtlassianError, BulkElement, fuzzing, platform::Issue, search_continuation,
};
use jiralink_fuzz::{Seed, seed};
use jiralink_sync::fuzzing::{jira_time_ms, scan_search_page, tail_continuation};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use time::{Duration, OffsetDateTime, macros::datetime};

const SECRET: &str = "CANARY-request-secret-77";
const NOW: OffsetDateTime = datetime!(2026-01-05 09:30 UTC);

#[derive(Debug, Arbitrary)]
enum Input {
    Search {
        content_type: String,
        body: String,
    },
    Issue(String),
    Token {
        status: u16,
        ok: bool,
        body: String,
    },
    Bulk {
        sent: u8,
        status: u16,
        choice: u8,
        body: String,
    },
}

fuzz_target!(|data: &[u8]| {
    match seed::<Input>(data) {
        Some(Seed::Raw { kind, bytes }) => {
            let body = String::from_utf8_lossy(bytes).into_owned();
            check(match kind % 5 {
                0 => Input::Search {
                    content_type: "application/json".into(),
                    body,
                },
                1 => Input::Issue(body),
                2 => Input::Token {
                    status: 200,
                    ok: true,
                    body,
                },
                3 => Input::Bulk {
                    sent: bulk_inputs(&body),
                    status: 201,
                    choice: 0,
                    body,
                },
                _ => Input::Bulk {
                    sent: bulk_inputs(&body),
                    status: 400,
                    choice: 1,
                    body,
                },
            });
        }
        Some(Seed::Structured(input)) => check(input),
        None => {}
    }
});

/// How many inputs a bulk answer accounts for: its issues and its errors.
fn bulk_inputs(body: &str) -> u8 {
    let answer: Value = serde_json::from_str(body).unwrap_or_default();
    let count = |k: &str| answer[k].as_array().map_or(0, Vec::len);
    u8::try_from(count("issues") + count("errors")).unwrap_or(u8::MAX)
}

fn check(input: Input) {
    match input {
        Input::Search { content_type, body } => search(&content_type, &body),
        Input::Issue(body) => {
            match fuzzing::issue("application/json", body.as_bytes(), &[SECRET]) {
                Ok(issue) => {
                    let json = serde_json::to_string(&issue).expect("an issue serialises");
                    let back: Issue = serde_json::from_str(&json)
                        .unwrap_or_else(|e| panic!("{json} reads back: {e}"));
                    assert_eq!(back, issue, "JSON round trip");
                }
                Err(e) => no_secret(&e),
            }
        }
        Input::Token { status, ok, body } => {
            let status = if ok { 200 } else { status };
            match fuzzing::token_answer(status, body.as_bytes(), NOW, &[SECRET]) {
                Ok(tokens) => {
                    assert!((200..300).contains(&status));
                    assert!(!tokens.access_token.expose().is_empty());
                    assert!(tokens.expires_at >= NOW);
                    assert!(tokens.expires_at <= NOW + Duration::days(366));
                    if let Some(r) = &tokens.refresh_token {
                        assert!(!r.expose().is_empty());
                    }
                    let shown = format!("{tokens:?}");
                    let scope = tokens.scope.as_deref().unwrap_or_default();
                    if body.contains("CANARY") && !scope.contains("CANARY") {
                        assert!(!shown.contains("CANARY"), "a token in {shown}");
                    }
                }
                Err(e) => no_secret(&e),
            }
        }
        Input::Bulk {
            sent,
            status,
            choice,
            body,
        } => {
            let sent = usize::from(sent % 51);
            let status = match choice % 3 {
                0 => 201,
                1 => 400,
                _ => status,
            };
            match fuzzing::bulk_create_answer(sent, status, body.as_bytes(), NOW, &[SECRET]) {
                Ok(elements) => {
                    assert_eq!(elements.len(), sent, "one outcome per input");
                    let answer: Value =
                        serde_json::from_str(&body).expect("an accepted answer is JSON");
                    let created: Vec<&str> = answer["issues"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|i| i["id"].as_str()).collect())
                        .unwrap_or_default();
                    let placed: Vec<&str> = elements
                        .iter()
                        .filter_map(|e| match e {
                            BulkElement::Created(c) => Some(c.id.as_str()),
                            BulkElement::Failed(_) => None,
                        })
                        .collect();
                    assert_eq!(placed, created, "created issues out of order");
                    for e in &elements {
                        if let BulkElement::Failed(f) = e {
                            let text = format!("{f:?}");
                            assert!(!text.contains(SECRET), "the secret in {text}");
                        }
                    }
                }
                Err(e) => no_secret(&e),
            }
        }
    }
}

fn search(content_type: &str, body: &str) {
    let typed = fuzzing::search_page(content_type, body.as_bytes(), &[SECRET]);
    let raw = fuzzing::raw_search_page(content_type, body.as_bytes(), &[SECRET]);
    if let Err(e) = &typed {
        no_secret(e);
    }
    if let Err(e) = &raw {
        no_secret(e);
    }
    let _ = tail_continuation(body);
    let scanned = scan_search_page(body);
    if let (Ok((issues, next)), Ok(raw)) = (&typed, &raw) {
        assert_eq!(issues.len(), raw.issues.len());
        assert_eq!(next, &raw.next_page_token);
    }
    let Ok(raw) = raw else {
        return;
    };
    let Ok(scan) = scanned else {
        return;
    };
    // The scanner reads Jira's JSON as Jira writes it; when the general parser reads the
    // same page, both must find the same issues.
    assert_eq!(scan.issues.len(), raw.issues.len(), "issue count");
    for (span, text) in scan.issues.iter().zip(&raw.issues) {
        let spanned: Value = serde_json::from_str(&body[span.start..span.end])
            .unwrap_or_else(|e| panic!("span {span:?} is not JSON: {e}"));
        let issue: Value = serde_json::from_str(text.get()).expect("raw issue");
        assert_eq!(spanned, issue, "span {span:?}");
        let id = match &issue["id"] {
            Value::String(s) => s.parse::<u64>().ok(),
            Value::Number(n) => n.as_u64(),
            _ => None,
        };
        assert_eq!(id, Some(span.id), "id of {issue}");
        if let Some(updated) = issue["fields"]["updated"].as_str() {
            assert_eq!(span.updated_ms, jira_time_ms(updated), "updated of {issue}");
        }
    }
    let scanned_next = search_continuation(scan.is_last, scan.next_page_token.clone());
    match scanned_next {
        Ok(next) => assert_eq!(next, raw.next_page_token, "next page"),
        Err(e) => panic!("the scanner's continuation failed where the client's did not: {e}"),
    }
}

fn no_secret(e: &AtlassianError) {
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(SECRET), "the secret in {shown}");
}
