//! Entry points for the fuzz targets in `fuzz/`: the decoders a Jira answer goes through,
//! reached without a network. Each calls the code the client runs; nothing here decides
//! anything of its own. Not part of the supported API.

use std::time::Duration;

use jiralink_domain::ManualClock;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use time::OffsetDateTime;

use crate::{
    client::{Answer, decode},
    error::AtlassianError,
    oauth::{TokenResponse, read_token_answer},
    observe::Masker,
    operation::{ISSUE_GET, SEARCH_JQL},
    platform::{Issue, RawSearchPage, SearchPage, read_raw_search_page, search_page_issues},
    writes::{BulkElement, read_bulk_answer},
};

/// An answer as the client holds it: headers that are not valid HTTP are left out, as the
/// HTTP stack would never hand them over. `secrets` are what the request's masker hides.
fn answer(status: u16, headers: &[(String, String)], body: &[u8], secrets: &[&str]) -> Answer {
    Answer {
        status,
        headers: header_map(headers),
        body: body.to_vec(),
        masker: Masker::new(secrets.iter().copied()),
    }
}

/// Headers that are valid HTTP, in order.
#[must_use]
pub fn header_map(headers: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    map
}

/// What a refused answer becomes ([`AtlassianError`]'s classification of a status, its
/// headers and body).
#[must_use]
pub fn classify(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    now: OffsetDateTime,
    secrets: &[&str],
) -> AtlassianError {
    let answer = answer(status, headers, body, secrets);
    AtlassianError::from_response(status, &answer.headers, &answer.body, now, &answer.masker)
}

/// The least wait the retry loop keeps to after `error` at `now` (`Retry-After`, else the time
/// until `X-RateLimit-Reset`).
#[must_use]
pub fn wait_floor(error: &AtlassianError, now: OffsetDateTime) -> Option<Duration> {
    crate::retry::floor_of(error, &ManualClock::new(now))
}

/// A `search/jql` page as [`JiraClient::search_jql`](crate::JiraClient::search_jql) reads it:
/// its issues and the next page's token.
///
/// # Errors
/// What the client would report.
pub fn search_page(
    content_type: &str,
    body: &[u8],
    secrets: &[&str],
) -> Result<(Vec<Issue>, Option<String>), AtlassianError> {
    let answer = answer(200, &content_type_header(content_type), body, secrets);
    decode::<SearchPage>(&SEARCH_JQL, &answer).and_then(search_page_issues)
}

/// A `search/jql` page as
/// [`JiraClient::search_jql_page_raw`](crate::JiraClient::search_jql_page_raw) reads it.
///
/// # Errors
/// What the client would report.
pub fn raw_search_page(
    content_type: &str,
    body: &[u8],
    secrets: &[&str],
) -> Result<RawSearchPage, AtlassianError> {
    read_raw_search_page(&answer(
        200,
        &content_type_header(content_type),
        body,
        secrets,
    ))
}

/// One issue (`GET /issue/{key}`).
///
/// # Errors
/// What the client would report.
pub fn issue(content_type: &str, body: &[u8], secrets: &[&str]) -> Result<Issue, AtlassianError> {
    decode::<Issue>(
        &ISSUE_GET,
        &answer(200, &content_type_header(content_type), body, secrets),
    )
}

/// The token endpoint's answer, received at `now`.
///
/// # Errors
/// What the token exchange would report.
pub fn token_answer(
    status: u16,
    body: &[u8],
    now: OffsetDateTime,
    secrets: &[&str],
) -> Result<TokenResponse, AtlassianError> {
    let answer = answer(
        status,
        &content_type_header("application/json"),
        body,
        secrets,
    );
    read_token_answer(status, &answer.headers, &answer.body, now, &answer.masker)
}

/// The answer to a bulk create of `sent` inputs, received at `now`.
///
/// # Errors
/// What [`JiraClient::create_issues`](crate::JiraClient::create_issues) would report.
pub fn bulk_create_answer(
    sent: usize,
    status: u16,
    body: &[u8],
    now: OffsetDateTime,
    secrets: &[&str],
) -> Result<Vec<BulkElement>, AtlassianError> {
    let answer = answer(
        status,
        &content_type_header("application/json"),
        body,
        secrets,
    );
    read_bulk_answer(sent, &answer, |a| {
        AtlassianError::from_response(a.status, &a.headers, &a.body, now, &a.masker)
    })
}

fn content_type_header(content_type: &str) -> Vec<(String, String)> {
    vec![("content-type".to_owned(), content_type.to_owned())]
}
