//! Request parsing and response helpers shared by the platform handlers.
//!
//! Query strings are read by hand ([`Params`]) because Jira repeats parameters
//! (`fields=a&fields=b`) and accepts comma lists; JSON bodies are parsed from bytes so a bad
//! body answers Jira's 400 `ErrorCollection` instead of the framework's plain-text rejection.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::data::{DataError, Project, SiteData};
use crate::errors::ApiError;
use crate::server::QuotaCost;

/// Message Jira sends for a body it cannot read.
pub const INVALID_PAYLOAD: &str =
    "Invalid request payload. Refer to the REST API documentation and try again.";

/// Query parameters in order, repeated keys kept.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a raw query string.
    pub fn parse(query: Option<&str>) -> Self {
        Self(
            url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, comma lists split.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// An integer parameter.
    pub fn int(&self, key: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) if v.trim().is_empty() => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                ApiError::platform_bad_request(&format!(
                    "The value '{v}' for the '{key}' parameter is not a valid number."
                ))
            }),
        }
    }

    /// A boolean parameter (`true`/`false`, any case).
    pub fn bool(&self, key: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(key).map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(ApiError::platform_bad_request(&format!(
                "The value '{v}' for the '{key}' parameter is not a valid boolean."
            ))),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::parse(parts.uri.query()))
    }
}

/// Parses a JSON body.
pub fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|_| ApiError::platform_bad_request(INVALID_PAYLOAD))
}

/// `startAt`/`maxResults` with Jira's checks: `startAt` ≥ 0, `maxResults` capped at `cap`.
pub fn page(params: &Params, default_max: i64, cap: i64) -> Result<(usize, usize), ApiError> {
    let start = params.int("startAt", 0)?;
    if start < 0 {
        return Err(ApiError::platform_bad_request(
            "The 'startAt' parameter must be greater than or equal to 0.",
        ));
    }
    let max = params.int("maxResults", default_max)?;
    if max < 0 {
        return Err(ApiError::platform_bad_request(
            "The 'maxResults' parameter must be greater than or equal to 0.",
        ));
    }
    let start = usize::try_from(start).unwrap_or(usize::MAX);
    let max = usize::try_from(max.min(cap)).unwrap_or(0);
    Ok((start, max))
}

/// Jira's `PageBean…` body (`self`, `maxResults`, `startAt`, `total`, `isLast`, `values`, and
/// `nextPage` while there is one) over values already selected from `start`. `path` may carry
/// query parameters of its own. An empty page (`maxResults=0`) names no next page, so a client
/// following `nextPage` stops.
pub fn page_body(path: &str, start: usize, max: usize, total: usize, values: &[Value]) -> Value {
    let sep = if path.contains('?') { '&' } else { '?' };
    let is_last = start.saturating_add(values.len()) >= total;
    let mut body = json!({
        "self": format!("{path}{sep}maxResults={max}&startAt={start}"),
        "maxResults": max,
        "startAt": start,
        "total": total,
        "isLast": is_last,
        "values": values,
    });
    if !is_last && max > 0 {
        body["nextPage"] = json!(format!(
            "{path}{sep}maxResults={max}&startAt={}",
            start + max
        ));
    }
    body
}

/// A JSON response from an already written body, charging `cost` extra quota points.
pub fn json(status: StatusCode, body: String, cost: u64) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body,
    )
        .into_response();
    if cost > 0 {
        response.extensions_mut().insert(QuotaCost(cost));
    }
    response
}

/// An empty 204.
pub fn no_content() -> Response {
    json(StatusCode::NO_CONTENT, String::new(), 0)
}

/// A JSON response from a value.
pub fn value(status: StatusCode, body: &Value, cost: u64) -> Response {
    json(status, body.to_string(), cost)
}

/// 404 for an issue.
pub fn issue_not_found() -> ApiError {
    ApiError::platform_not_found("Issue")
}

/// 404 for a project key or id.
pub fn project_not_found(key: &str) -> ApiError {
    ApiError::platform(
        StatusCode::NOT_FOUND,
        &[&format!("No project could be found with key '{key}'.")],
        &[],
    )
}

/// The project with key or id `key`, or its 404.
pub fn project_or_404<'a>(site: &'a SiteData, key: &str) -> Result<&'a Project, ApiError> {
    site.project_by_key_or_id(key)
        .ok_or_else(|| project_not_found(key))
}

/// Maps a data error to Jira's answer.
pub fn data_error(e: DataError) -> ApiError {
    match e {
        DataError::IssueNotFound(_) => issue_not_found(),
        DataError::ProjectNotFound(p) => project_not_found(&p),
        DataError::ItemNotFound(what) => ApiError::platform(
            StatusCode::NOT_FOUND,
            &[&format!("Can not find {what}.")],
            &[],
        ),
        DataError::Fields(errors) => {
            let pairs: Vec<(&str, &str)> = errors
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            ApiError::platform(StatusCode::BAD_REQUEST, &[], &pairs)
        }
        DataError::Invalid(message) | DataError::Dump(message) => {
            ApiError::platform_bad_request(&message)
        }
        DataError::InvalidTransition(id) => ApiError::platform_bad_request(&format!(
            "Transition id '{id}' is not valid for this issue."
        )),
        DataError::LimitReached { what, limit } => ApiError::platform(
            StatusCode::PAYLOAD_TOO_LARGE,
            &[&format!(
                "The issue has reached the limit of {limit} {what}. Remove some before adding more."
            )],
            &[],
        ),
    }
}

/// Epoch milliseconds of a Jira timestamp (`2026-01-05T09:30:00.000+0000`, also RFC 3339).
pub fn parse_datetime(text: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let t = text.trim();
    let parsed = time::OffsetDateTime::parse(t, &Rfc3339).ok().or_else(|| {
        // Jira's form has no colon in the offset.
        let (head, offset) = t.split_at(t.len().checked_sub(5)?);
        let (sign, digits) = offset.split_at(1);
        if !matches!(sign, "+" | "-") || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let fixed = format!("{head}{sign}{}:{}", &digits[..2], &digits[2..]);
        time::OffsetDateTime::parse(&fixed, &Rfc3339).ok()
    })?;
    i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_keep_repeats_and_split_lists() {
        let p = Params::parse(Some(
            "fields=summary,status&fields=labels&maxResults=5&x=TRUE",
        ));
        assert_eq!(p.list("fields"), vec!["summary", "status", "labels"]);
        assert_eq!(p.int("maxResults", 50).expect("int"), 5);
        assert!(p.bool("x", false).expect("bool"));
        assert!(p.int("fields", 0).is_err());
    }

    #[test]
    fn jira_datetimes_parse() {
        assert_eq!(
            parse_datetime("2026-01-05T09:30:00.000+0000"),
            Some(1_767_605_400_000)
        );
        assert_eq!(
            parse_datetime("2026-01-05T10:30:00.000+0100"),
            Some(1_767_605_400_000)
        );
        assert_eq!(
            parse_datetime("2026-01-05T09:30:00Z"),
            Some(1_767_605_400_000)
        );
        assert_eq!(parse_datetime("yesterday"), None);
    }
}
