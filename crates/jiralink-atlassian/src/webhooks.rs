//! What a webhook receiver checks and reads, with no I/O: the JWT of a dynamic webhook, the
//! `X-Hub-Signature` of an admin webhook, and the event in the body.
//!
//! - [`verify_jwt`]: `Authorization: Bearer <JWT>` of a dynamic (OAuth 2.0 app) webhook. HS256
//!   only, keyed with the app's client secret; the signature is checked (in constant time)
//!   before any claim is read; `exp`, `iat`, `iss`, `aud` and `jti` are all required. Replays
//!   within a token's lifetime are the receiver's to refuse, by remembering each `jti` until
//!   its `exp`.
//! - [`verify_hub_signature`]: `X-Hub-Signature: sha256=<hex>` of an admin webhook with a
//!   secret, an HMAC-SHA256 of the exact body bytes.
//! - [`WebhookEvent::decode`]: the event kind, its time and the records it touches.
//!
//! Errors ([`WebhookAuthError`], [`WebhookPayloadError`]) are for logs: they never hold the
//! secret, the token, the signature or the body.

use std::{fmt, time::Duration};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jiralink_vault::ClientSecret;
use ring::hmac;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::IgnoredAny};
use serde_json::{Map, Number, Value};
use time::{OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description};

/// The longest bearer token [`verify_jwt`] reads; Jira's are a few hundred bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Why a webhook's credentials were refused. For logs only: no variant holds the secret, the
/// token, the signature or anything else taken from the request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookAuthError {
    /// The receiver has nothing to check against (an empty secret, issuer or audience).
    #[error("webhook verification is not configured: {0}")]
    NotConfigured(&'static str),
    /// The token is not a compact JWS jiralink can read.
    #[error("the webhook token is malformed: {0}")]
    MalformedToken(&'static str),
    /// The token's `alg` is not `HS256` (`none` included).
    #[error("the webhook token is not signed with HS256")]
    Algorithm,
    /// The signature does not match the content and the secret.
    #[error("the webhook signature does not match")]
    BadSignature,
    /// `exp` has passed, beyond the leeway.
    #[error("the webhook token has expired")]
    Expired,
    /// `iat` (or `nbf`) is in the future, beyond the leeway.
    #[error("the webhook token is not valid yet")]
    NotYetValid,
    /// A required claim is absent or of the wrong type.
    #[error("the webhook token lacks a valid {0} claim")]
    MissingClaim(&'static str),
    /// `iss` is not the expected site.
    #[error("the webhook token was issued by another site")]
    WrongIssuer,
    /// `aud` does not name the expected app.
    #[error("the webhook token is meant for another app")]
    WrongAudience,
    /// No `X-Hub-Signature` came with a webhook that must be signed.
    #[error("the webhook signature header is missing")]
    MissingSignature,
    /// `X-Hub-Signature` is not `sha256=` and 64 lowercase hex digits.
    #[error("the webhook signature header is malformed: {0}")]
    MalformedSignature(&'static str),
}

/// The claims of a verified webhook token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwtClaims {
    /// The issuer: the site's cloud id.
    pub iss: String,
    /// The audiences (the app's client id among them).
    pub aud: Vec<String>,
    /// When it was issued.
    pub iat: OffsetDateTime,
    /// When it expires.
    pub exp: OffsetDateTime,
    /// The token's id, fresh for every delivery attempt: remember it until `exp` to refuse
    /// replays.
    pub jti: String,
}

#[derive(Deserialize)]
struct JwtHeader {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct RawClaims {
    #[serde(default)]
    iss: Option<Value>,
    #[serde(default)]
    aud: Option<Value>,
    #[serde(default)]
    iat: Option<Value>,
    #[serde(default)]
    exp: Option<Value>,
    #[serde(default)]
    nbf: Option<Value>,
    #[serde(default)]
    jti: Option<Value>,
}

/// Verifies a dynamic webhook's bearer token (the text after `Bearer `) and returns its claims.
///
/// Checked, in this order: the shape (three base64url parts, at most [`MAX_TOKEN_LEN`] bytes);
/// the header (`alg` exactly `HS256`, so `none` and every other algorithm are refused; `typ`
/// absent or `JWT`; no `crit` extensions); the HMAC-SHA256 signature over `header.payload`,
/// keyed with the client secret's UTF-8 bytes, compared in constant time; only then the claims:
/// `exp` present and not before `now - leeway`; `iat` present and not after `now + leeway`
/// (and `nbf`, when present, likewise); `iss` equal to `expected_issuer`; `aud` equal to, or an
/// array containing, `expected_audience`; `jti` a non-empty string.
///
/// # Errors
/// The first check that fails, as a [`WebhookAuthError`].
pub fn verify_jwt(
    token: &str,
    client_secret: &ClientSecret,
    expected_issuer: &str,
    expected_audience: &str,
    now: OffsetDateTime,
    leeway: Duration,
) -> Result<JwtClaims, WebhookAuthError> {
    let key = client_secret.expose().as_bytes();
    if key.is_empty() {
        return Err(WebhookAuthError::NotConfigured(
            "the client secret is empty",
        ));
    }
    if expected_issuer.is_empty() || expected_audience.is_empty() {
        return Err(WebhookAuthError::NotConfigured(
            "the expected issuer or audience is empty",
        ));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(WebhookAuthError::MalformedToken("it is too long"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(WebhookAuthError::MalformedToken(
            "it is not three dot-separated parts",
        ));
    };
    let header: JwtHeader = read_part(header, "the header is not base64url json")?;
    if header.alg != "HS256" {
        return Err(WebhookAuthError::Algorithm);
    }
    if header
        .typ
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case("JWT"))
    {
        return Err(WebhookAuthError::MalformedToken("the typ is not JWT"));
    }
    if header.crit.is_some() {
        return Err(WebhookAuthError::MalformedToken(
            "the header names critical extensions",
        ));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| WebhookAuthError::MalformedToken("the signature is not base64url"))?;
    let signed = &token.as_bytes()[..header_len(token)];
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, key), signed, &signature)
        .map_err(|_| WebhookAuthError::BadSignature)?;

    let claims: RawClaims = read_part(payload, "the claims are not base64url json")?;
    let leeway = time::Duration::try_from(leeway).unwrap_or(time::Duration::MAX);
    let exp = numeric_date(claims.exp.as_ref()).ok_or(WebhookAuthError::MissingClaim("exp"))?;
    if exp.saturating_add(leeway) < now {
        return Err(WebhookAuthError::Expired);
    }
    let iat = numeric_date(claims.iat.as_ref()).ok_or(WebhookAuthError::MissingClaim("iat"))?;
    let latest = now.saturating_add(leeway);
    if iat > latest {
        return Err(WebhookAuthError::NotYetValid);
    }
    if let Some(nbf) = &claims.nbf {
        let nbf = numeric_date(Some(nbf)).ok_or(WebhookAuthError::MissingClaim("nbf"))?;
        if nbf > latest {
            return Err(WebhookAuthError::NotYetValid);
        }
    }
    let Some(Value::String(iss)) = claims.iss else {
        return Err(WebhookAuthError::MissingClaim("iss"));
    };
    if iss != expected_issuer {
        return Err(WebhookAuthError::WrongIssuer);
    }
    let aud = match claims.aud.map(serde_json::from_value::<Audience>) {
        Some(Ok(Audience::One(one))) => vec![one],
        Some(Ok(Audience::Many(many))) => many,
        None | Some(Err(_)) => return Err(WebhookAuthError::MissingClaim("aud")),
    };
    if !aud.iter().any(|a| a == expected_audience) {
        return Err(WebhookAuthError::WrongAudience);
    }
    let jti = match claims.jti {
        Some(Value::String(jti)) if !jti.is_empty() => jti,
        _ => return Err(WebhookAuthError::MissingClaim("jti")),
    };
    Ok(JwtClaims {
        iss,
        aud,
        iat,
        exp,
        jti,
    })
}

/// The length of `header.payload`, the part of a compact JWS the signature covers.
fn header_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}

/// A base64url JSON part of a token.
fn read_part<T: serde::de::DeserializeOwned>(
    part: &str,
    what: &'static str,
) -> Result<T, WebhookAuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| WebhookAuthError::MalformedToken(what))?;
    serde_json::from_slice(&bytes).map_err(|_| WebhookAuthError::MalformedToken(what))
}

/// A JWT NumericDate (seconds since the epoch, possibly with a fraction, which is dropped).
fn numeric_date(value: Option<&Value>) -> Option<OffsetDateTime> {
    let Value::Number(n) = value? else {
        return None;
    };
    let secs = seconds(n)?;
    OffsetDateTime::from_unix_timestamp(secs).ok()
}

fn seconds(n: &Number) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    // Beyond ±2^53 a float no longer holds whole seconds, and no real token gets there.
    (f.is_finite() && f.abs() < 9_007_199_254_740_992.0).then(|| f.floor() as i64)
}

/// Verifies an admin webhook's `X-Hub-Signature` (`header`, absent when the request had none):
/// `sha256=` and the lowercase hex HMAC-SHA256 of exactly `body`, keyed with `secret`, compared
/// in constant time.
///
/// # Errors
/// [`WebhookAuthError::MissingSignature`], [`WebhookAuthError::MalformedSignature`] (another
/// algorithm, uppercase or short hex), [`WebhookAuthError::BadSignature`], or
/// [`WebhookAuthError::NotConfigured`] for an empty secret.
pub fn verify_hub_signature(
    body: &[u8],
    header: Option<&str>,
    secret: &[u8],
) -> Result<(), WebhookAuthError> {
    if secret.is_empty() {
        return Err(WebhookAuthError::NotConfigured(
            "the webhook secret is empty",
        ));
    }
    let header = header.ok_or(WebhookAuthError::MissingSignature)?;
    let digits = header
        .strip_prefix("sha256=")
        .ok_or(WebhookAuthError::MalformedSignature(
            "it is not sha256=<hex>",
        ))?;
    // One spelling only, so a signature is one string and not several.
    if digits.len() != 64
        || !digits
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(WebhookAuthError::MalformedSignature(
            "it is not 64 lowercase hex digits",
        ));
    }
    let tag =
        hex::decode(digits).map_err(|_| WebhookAuthError::MalformedSignature("it is not hex"))?;
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, secret), body, &tag)
        .map_err(|_| WebhookAuthError::BadSignature)
}

/// The kind of a webhook event (`webhookEvent`), also what a webhook is registered for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum WebhookEventKind {
    /// `jira:issue_created`.
    IssueCreated,
    /// `jira:issue_updated`.
    IssueUpdated,
    /// `jira:issue_deleted`.
    IssueDeleted,
    /// `comment_created`.
    CommentCreated,
    /// `comment_updated`.
    CommentUpdated,
    /// `comment_deleted`.
    CommentDeleted,
    /// `worklog_created`.
    WorklogCreated,
    /// `worklog_updated`.
    WorklogUpdated,
    /// `worklog_deleted`.
    WorklogDeleted,
    /// `issuelink_created`.
    IssueLinkCreated,
    /// `issuelink_deleted`.
    IssueLinkDeleted,
    /// Any other event, by its name (e.g. `issue_property_set`).
    Other(String),
}

impl WebhookEventKind {
    /// Every kind jiralink reads, in Jira's order.
    pub const KNOWN: [Self; 11] = [
        Self::IssueCreated,
        Self::IssueUpdated,
        Self::IssueDeleted,
        Self::CommentCreated,
        Self::CommentUpdated,
        Self::CommentDeleted,
        Self::WorklogCreated,
        Self::WorklogUpdated,
        Self::WorklogDeleted,
        Self::IssueLinkCreated,
        Self::IssueLinkDeleted,
    ];

    /// The kind Jira names `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Self {
        match name {
            "jira:issue_created" => Self::IssueCreated,
            "jira:issue_updated" => Self::IssueUpdated,
            "jira:issue_deleted" => Self::IssueDeleted,
            "comment_created" => Self::CommentCreated,
            "comment_updated" => Self::CommentUpdated,
            "comment_deleted" => Self::CommentDeleted,
            "worklog_created" => Self::WorklogCreated,
            "worklog_updated" => Self::WorklogUpdated,
            "worklog_deleted" => Self::WorklogDeleted,
            "issuelink_created" => Self::IssueLinkCreated,
            "issuelink_deleted" => Self::IssueLinkDeleted,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Jira's name of the kind.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::IssueCreated => "jira:issue_created",
            Self::IssueUpdated => "jira:issue_updated",
            Self::IssueDeleted => "jira:issue_deleted",
            Self::CommentCreated => "comment_created",
            Self::CommentUpdated => "comment_updated",
            Self::CommentDeleted => "comment_deleted",
            Self::WorklogCreated => "worklog_created",
            Self::WorklogUpdated => "worklog_updated",
            Self::WorklogDeleted => "worklog_deleted",
            Self::IssueLinkCreated => "issuelink_created",
            Self::IssueLinkDeleted => "issuelink_deleted",
            Self::Other(name) => name,
        }
    }
}

impl fmt::Display for WebhookEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for WebhookEventKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for WebhookEventKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(Self::from_name(&name))
    }
}

/// Why a webhook body was refused. For logs only: no variant holds anything from the body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookPayloadError {
    /// The body is longer than the receiver accepts; it was not parsed.
    #[error("the webhook body is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// The body's length.
        len: usize,
        /// The most accepted.
        max: usize,
    },
    /// The body is not a JSON object.
    #[error("the webhook body is not a json object ({0})")]
    NotJson(String),
    /// A value the event's kind needs is absent.
    #[error("the webhook body lacks {0}")]
    Missing(&'static str),
    /// A value is present but of the wrong type or form.
    #[error("the webhook body's {0} is not valid")]
    Invalid(&'static str),
}

/// A webhook event as jiralink reads it: what happened, when, and to which records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEvent {
    /// `webhookEvent`.
    pub kind: WebhookEventKind,
    /// `timestamp`: when Jira raised the event, in epoch milliseconds.
    pub timestamp_ms: i64,
    /// The issues the event touches, as numeric ids in text: `issue.id`; a worklog's
    /// `issueId`; a link's source and destination. Empty only for [`WebhookEventKind::Other`]
    /// events without an issue.
    pub issue_ids: Vec<String>,
    /// `issue.key`, when the body has one.
    pub issue_key: Option<String>,
    /// The issue's `fields.updated`, when the body has one.
    pub issue_updated: Option<OffsetDateTime>,
    /// `comment.id` of comment events.
    pub comment_id: Option<String>,
    /// `worklog.id` of worklog events.
    pub worklog_id: Option<String>,
    /// The `fieldId`s of the changelog's items, in order, each once (updates only).
    pub changed_field_ids: Vec<String>,
}

impl WebhookEvent {
    /// Reads a webhook body of at most `max_len` bytes.
    ///
    /// Required for every event: a JSON object with `timestamp` (integer) and `webhookEvent`.
    /// Then by kind: issue events `issue.id`; comment events `comment.id` and `issue.id`;
    /// worklog events `worklog.id` and `worklog.issueId`; issue link events
    /// `issueLink.sourceIssueId` and `issueLink.destinationIssueId`. Ids may be text or
    /// numbers, and must be decimal digits. Other events are read for whatever of these they
    /// hold. Unknown members are ignored, but a member jiralink reads must have its type.
    ///
    /// # Errors
    /// [`WebhookPayloadError::TooLarge`] before any parsing, then whatever is missing or
    /// malformed.
    pub fn decode(body: &[u8], max_len: usize) -> Result<Self, WebhookPayloadError> {
        if body.len() > max_len {
            return Err(WebhookPayloadError::TooLarge {
                len: body.len(),
                max: max_len,
            });
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| WebhookPayloadError::NotJson(syntax_error(&e)))?;
        let Value::Object(root) = value else {
            return Err(WebhookPayloadError::NotJson("not an object".to_owned()));
        };
        let timestamp_ms = match root.get("timestamp") {
            None | Some(Value::Null) => return Err(WebhookPayloadError::Missing("timestamp")),
            Some(Value::Number(n)) => n
                .as_i64()
                .ok_or(WebhookPayloadError::Invalid("timestamp"))?,
            Some(_) => return Err(WebhookPayloadError::Invalid("timestamp")),
        };
        let kind = WebhookEventKind::from_name(
            text(&root, "webhookEvent", "webhookEvent")?
                .ok_or(WebhookPayloadError::Missing("webhookEvent"))?,
        );
        let issue = object(&root, "issue", "issue")?;
        let comment = object(&root, "comment", "comment")?;
        let worklog = object(&root, "worklog", "worklog")?;
        let link = object(&root, "issueLink", "issueLink")?;

        let issue_id = issue
            .map(|i| id(i, "id", "issue.id"))
            .transpose()?
            .flatten();
        let comment_id = comment
            .map(|c| id(c, "id", "comment.id"))
            .transpose()?
            .flatten();
        let worklog_id = worklog
            .map(|w| id(w, "id", "worklog.id"))
            .transpose()?
            .flatten();
        let worklog_issue = worklog
            .map(|w| id(w, "issueId", "worklog.issueId"))
            .transpose()?
            .flatten();
        let source = link
            .map(|l| id(l, "sourceIssueId", "issueLink.sourceIssueId"))
            .transpose()?
            .flatten();
        let destination = link
            .map(|l| id(l, "destinationIssueId", "issueLink.destinationIssueId"))
            .transpose()?
            .flatten();

        use WebhookEventKind as K;
        let needed: &[(&Option<String>, &'static str)] = match kind {
            K::IssueCreated | K::IssueUpdated | K::IssueDeleted => &[(&issue_id, "issue.id")],
            K::CommentCreated | K::CommentUpdated | K::CommentDeleted => {
                &[(&comment_id, "comment.id"), (&issue_id, "issue.id")]
            }
            K::WorklogCreated | K::WorklogUpdated | K::WorklogDeleted => &[
                (&worklog_id, "worklog.id"),
                (&worklog_issue, "worklog.issueId"),
            ],
            K::IssueLinkCreated | K::IssueLinkDeleted => &[
                (&source, "issueLink.sourceIssueId"),
                (&destination, "issueLink.destinationIssueId"),
            ],
            K::Other(_) => &[],
        };
        if let Some((_, what)) = needed.iter().find(|(v, _)| v.is_none()) {
            return Err(WebhookPayloadError::Missing(what));
        }

        let mut issue_ids: Vec<String> = Vec::new();
        for found in [issue_id, worklog_issue, source, destination]
            .into_iter()
            .flatten()
        {
            if !issue_ids.contains(&found) {
                issue_ids.push(found);
            }
        }
        let issue_key = issue
            .map(|i| text(i, "key", "issue.key"))
            .transpose()?
            .flatten()
            .map(str::to_owned);
        let fields = issue
            .map(|i| object(i, "fields", "issue.fields"))
            .transpose()?
            .flatten();
        let issue_updated = match fields
            .map(|f| text(f, "updated", "issue.fields.updated"))
            .transpose()?
            .flatten()
        {
            Some(t) => Some(
                parse_jira_time(t).ok_or(WebhookPayloadError::Invalid("issue.fields.updated"))?,
            ),
            None => None,
        };
        Ok(Self {
            kind,
            timestamp_ms,
            issue_ids,
            issue_key,
            issue_updated,
            comment_id,
            worklog_id,
            changed_field_ids: changed_fields(&root)?,
        })
    }
}

/// A JSON syntax error's position and class, without the text it came from.
fn syntax_error(e: &serde_json::Error) -> String {
    format!(
        "{:?} error at line {} column {}",
        e.classify(),
        e.line(),
        e.column()
    )
}

/// `map[key]` as an object; `None` when absent or null.
fn object<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    what: &'static str,
) -> Result<Option<&'a Map<String, Value>>, WebhookPayloadError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(WebhookPayloadError::Invalid(what)),
    }
}

/// `map[key]` as text; `None` when absent or null.
fn text<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    what: &'static str,
) -> Result<Option<&'a str>, WebhookPayloadError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(WebhookPayloadError::Invalid(what)),
    }
}

/// `map[key]` as a numeric id in text (Jira sends ids as text, link ids as numbers).
fn id(
    map: &Map<String, Value>,
    key: &str,
    what: &'static str,
) -> Result<Option<String>, WebhookPayloadError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s))
            if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(Some(s.clone()))
        }
        Some(Value::Number(n)) => n
            .as_u64()
            .map(|n| Some(n.to_string()))
            .ok_or(WebhookPayloadError::Invalid(what)),
        Some(_) => Err(WebhookPayloadError::Invalid(what)),
    }
}

/// The `fieldId`s of `changelog.items`, in order, each once. Items without a `fieldId` are
/// skipped: the event still says the issue changed.
fn changed_fields(root: &Map<String, Value>) -> Result<Vec<String>, WebhookPayloadError> {
    let Some(changelog) = object(root, "changelog", "changelog")? else {
        return Ok(Vec::new());
    };
    let items = match changelog.get("items") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(WebhookPayloadError::Invalid("changelog.items")),
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let Value::Object(item) = item else {
            return Err(WebhookPayloadError::Invalid("changelog.items"));
        };
        if let Some(field) = text(item, "fieldId", "changelog.items.fieldId")?
            && !out.iter().any(|f| f == field)
        {
            out.push(field.to_owned());
        }
    }
    Ok(out)
}

/// A time as Jira writes it: `2026-01-05T09:30:00.000+0000`, or RFC 3339.
pub(crate) fn parse_jira_time(text: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t);
    }
    let with_fraction = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond][offset_hour sign:mandatory][offset_minute]"
    );
    let without = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory][offset_minute]"
    );
    OffsetDateTime::parse(text, with_fraction)
        .or_else(|_| OffsetDateTime::parse(text, without))
        .ok()
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    const SECRET: &str = "CANARY-client-secret-5e1d9c";
    const SITE: &str = "8c7a4c1e-1f2b-4a3d-9e8f-0a1b2c3d4e5f";
    const APP: &str = "app-client-id-42";
    const NOW: OffsetDateTime = datetime!(2026-01-05 09:30 UTC);
    const LEEWAY: Duration = Duration::from_secs(30);

    fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    /// A compact JWS of `header` and `claims`, signed with HMAC-SHA256 under `key`.
    fn sign(header: &Value, claims: &Value, key: &[u8]) -> String {
        let input = format!("{}.{}", b64(header), b64(claims));
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    fn claims() -> Value {
        let iat = NOW.unix_timestamp();
        json!({"iss": SITE, "aud": APP, "iat": iat, "exp": iat + 180,
            "jti": "0b6f3c1e-8d2a-4f5b-9c7e-1a2b3c4d5e6f"})
    }

    fn hs256() -> Value {
        json!({"alg": "HS256", "typ": "JWT"})
    }

    fn valid_token() -> String {
        sign(&hs256(), &claims(), SECRET.as_bytes())
    }

    fn verify_at(token: &str, now: OffsetDateTime) -> Result<JwtClaims, WebhookAuthError> {
        verify_jwt(token, &ClientSecret::new(SECRET), SITE, APP, now, LEEWAY)
    }

    fn verify(token: &str) -> Result<JwtClaims, WebhookAuthError> {
        verify_at(token, NOW)
    }

    fn with(change: impl FnOnce(&mut Value)) -> String {
        let mut c = claims();
        change(&mut c);
        sign(&hs256(), &c, SECRET.as_bytes())
    }

    #[test]
    fn a_token_as_jira_mints_it_is_accepted() {
        let got = verify(&valid_token()).unwrap();
        assert_eq!(
            got,
            JwtClaims {
                iss: SITE.to_owned(),
                aud: vec![APP.to_owned()],
                iat: NOW,
                exp: NOW + time::Duration::seconds(180),
                jti: "0b6f3c1e-8d2a-4f5b-9c7e-1a2b3c4d5e6f".to_owned(),
            }
        );
        // Without `typ`, with an audience array and a fractional date, still one token.
        let token = sign(
            &json!({"alg": "HS256"}),
            &json!({"iss": SITE, "aud": ["other", APP], "iat": NOW.unix_timestamp() as f64 + 0.5,
                "exp": NOW.unix_timestamp() + 180, "jti": "j"}),
            SECRET.as_bytes(),
        );
        let got = verify(&token).unwrap();
        assert_eq!(got.aud, ["other", APP]);
        assert_eq!(got.iat, NOW);
    }

    #[test]
    fn every_algorithm_but_hs256_is_refused() {
        let c = claims();
        let unsigned = format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&c)
        );
        assert_eq!(verify(&unsigned), Err(WebhookAuthError::Algorithm));
        // Correctly signed with the secret, but naming another algorithm: the header decides
        // nothing but whether the token is read at all.
        for alg in ["HS384", "HS512", "RS256", "ES256", "hs256", "none", ""] {
            let token = sign(&json!({"alg": alg, "typ": "JWT"}), &c, SECRET.as_bytes());
            assert_eq!(verify(&token), Err(WebhookAuthError::Algorithm), "{alg}");
        }
        let token = sign(&json!({"typ": "JWT"}), &c, SECRET.as_bytes());
        assert!(matches!(
            verify(&token),
            Err(WebhookAuthError::MalformedToken(_))
        ));
    }

    #[test]
    fn signatures_under_another_key_or_of_another_content_are_refused() {
        let token = sign(&hs256(), &claims(), b"another secret");
        assert_eq!(verify(&token), Err(WebhookAuthError::BadSignature));
        // A valid signature moved onto other claims.
        let valid = valid_token();
        let signature = valid.rsplit('.').next().unwrap();
        let forged = format!(
            "{}.{}.{signature}",
            b64(&hs256()),
            b64(&json!({"iss": SITE, "aud": APP, "iat": 1, "exp": 4_000_000_000_i64, "jti": "x"}))
        );
        assert_eq!(verify(&forged), Err(WebhookAuthError::BadSignature));
        // A truncated signature.
        let short = &valid[..valid.len() - 4];
        assert!(verify(short).is_err());
    }

    #[test]
    fn times_are_checked_with_the_leeway() {
        let token = valid_token();
        let exp = NOW + time::Duration::seconds(180);
        assert!(verify_at(&token, exp + time::Duration::seconds(30)).is_ok());
        assert_eq!(
            verify_at(&token, exp + time::Duration::seconds(31)),
            Err(WebhookAuthError::Expired)
        );
        assert!(verify_at(&token, NOW - time::Duration::seconds(30)).is_ok());
        assert_eq!(
            verify_at(&token, NOW - time::Duration::seconds(31)),
            Err(WebhookAuthError::NotYetValid)
        );
        let not_before = with(|c| c["nbf"] = json!(NOW.unix_timestamp() + 60));
        assert_eq!(verify(&not_before), Err(WebhookAuthError::NotYetValid));
    }

    #[test]
    fn every_required_claim_must_be_there_with_its_type() {
        for (claim, missing) in [
            ("exp", "exp"),
            ("iat", "iat"),
            ("iss", "iss"),
            ("aud", "aud"),
            ("jti", "jti"),
        ] {
            let token = with(|c| {
                c.as_object_mut().unwrap().remove(claim);
            });
            assert_eq!(
                verify(&token),
                Err(WebhookAuthError::MissingClaim(missing)),
                "{claim}"
            );
        }
        for (claim, value) in [
            ("exp", json!("soon")),
            ("iat", json!(null)),
            ("iss", json!(42)),
            ("aud", json!([1])),
            ("jti", json!("")),
            ("exp", json!(1e300)),
        ] {
            let token = with(|c| c[claim] = value.clone());
            assert!(
                matches!(verify(&token), Err(WebhookAuthError::MissingClaim(_))),
                "{claim}: {value}"
            );
        }
    }

    #[test]
    fn issuer_and_audience_must_match() {
        let token = with(|c| c["iss"] = json!("another-cloud-id"));
        assert_eq!(verify(&token), Err(WebhookAuthError::WrongIssuer));
        let token = with(|c| c["aud"] = json!(["x", "y"]));
        assert_eq!(verify(&token), Err(WebhookAuthError::WrongAudience));
        let token = with(|c| c["aud"] = json!("APP-CLIENT-ID-42"));
        assert_eq!(verify(&token), Err(WebhookAuthError::WrongAudience));
    }

    #[test]
    fn malformed_tokens_and_headers_are_refused() {
        let valid = valid_token();
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        let crit = sign(
            &json!({"alg": "HS256", "crit": ["exp"], "exp": 1}),
            &claims(),
            SECRET.as_bytes(),
        );
        let typ = sign(
            &json!({"alg": "HS256", "typ": "at+jwt"}),
            &claims(),
            SECRET.as_bytes(),
        );
        let padded = format!("{valid}=");
        let cases = [
            "",
            "a.b",
            "a.b.c.d",
            long.as_str(),
            crit.as_str(),
            typ.as_str(),
            padded.as_str(),
        ];
        for token in cases {
            assert!(
                matches!(verify(token), Err(WebhookAuthError::MalformedToken(_))),
                "{token:.40}"
            );
        }
        let extra = format!("{valid}.");
        assert!(verify(&extra).is_err());
    }

    #[test]
    fn nothing_is_accepted_without_a_secret_issuer_or_audience() {
        let token = valid_token();
        let empty = ClientSecret::new("");
        assert!(matches!(
            verify_jwt(&token, &empty, SITE, APP, NOW, LEEWAY),
            Err(WebhookAuthError::NotConfigured(_))
        ));
        let secret = ClientSecret::new(SECRET);
        for (iss, aud) in [("", APP), (SITE, "")] {
            assert!(matches!(
                verify_jwt(&token, &secret, iss, aud, NOW, LEEWAY),
                Err(WebhookAuthError::NotConfigured(_))
            ));
        }
    }

    #[test]
    fn errors_never_show_the_secret_or_the_token() {
        let token = valid_token();
        let mut errors: Vec<WebhookAuthError> = vec![
            verify_at(&token, NOW + time::Duration::days(1)).unwrap_err(),
            verify(&sign(&hs256(), &claims(), b"x")).unwrap_err(),
            verify(&format!("{token}{SECRET}")).unwrap_err(),
            verify_hub_signature(SECRET.as_bytes(), Some(SECRET), SECRET.as_bytes()).unwrap_err(),
        ];
        errors.push(verify(&with(|c| c["iss"] = json!(SECRET))).unwrap_err());
        let signature = token.rsplit('.').next().unwrap();
        for e in errors {
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("CANARY"), "{shown}");
            assert!(!shown.contains(signature), "{shown}");
            assert!(!shown.contains(&token[..20]), "{shown}");
        }
    }

    fn hub(body: &[u8], secret: &[u8]) -> String {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), body);
        format!("sha256={}", hex::encode(tag.as_ref()))
    }

    #[test]
    fn hub_signatures_of_the_exact_body_are_accepted() {
        let body = br#"{"timestamp":1,"webhookEvent":"jira:issue_created"}"#;
        // RFC 4231 test case 2, so the HMAC is the standard one.
        assert_eq!(
            hub(b"what do ya want for nothing?", b"Jefe"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let header = hub(body, b"s3cret");
        assert_eq!(verify_hub_signature(body, Some(&header), b"s3cret"), Ok(()));
        assert_eq!(
            verify_hub_signature(body, Some(&header), b"other"),
            Err(WebhookAuthError::BadSignature)
        );
        assert_eq!(
            verify_hub_signature(b"{}", Some(&header), b"s3cret"),
            Err(WebhookAuthError::BadSignature)
        );
        assert_eq!(
            verify_hub_signature(body, None, b"s3cret"),
            Err(WebhookAuthError::MissingSignature)
        );
        let upper = format!("sha256={}", header["sha256=".len()..].to_ascii_uppercase());
        let sha1 = format!("sha1={}", &header["sha256=".len()..]);
        let spaced = format!(" {header}");
        for bad in [
            upper.as_str(),
            sha1.as_str(),
            spaced.as_str(),
            "sha256=",
            "sha256=abc",
        ] {
            assert!(
                matches!(
                    verify_hub_signature(body, Some(bad), b"s3cret"),
                    Err(WebhookAuthError::MalformedSignature(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            verify_hub_signature(body, Some(&header), b""),
            Err(WebhookAuthError::NotConfigured(_))
        ));
    }

    fn issue_updated_body() -> Value {
        json!({
            "timestamp": 1_767_605_400_000_i64,
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_generic",
            "user": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Fred"},
            "issue": {"id": "10001", "key": "MKT-1", "self": "https://demo.atlassian.net/rest/api/3/issue/10001",
                "fields": {"summary": "s", "updated": "2026-01-05T09:30:00.000+0000", "status": {"name": "Done"}}},
            "changelog": {"id": "10100", "items": [
                {"field": "status", "fieldtype": "jira", "fieldId": "status", "from": "1", "fromString": "To Do", "to": "3", "toString": "Done"},
                {"field": "Story Points", "fieldtype": "custom", "fieldId": "customfield_10016"},
                {"field": "status", "fieldtype": "jira", "fieldId": "status"},
                {"field": "Attachment", "fieldtype": "jira"}
            ]},
            "somethingNew": {"nested": [1, 2, 3]}
        })
    }

    fn decode(body: &Value) -> Result<WebhookEvent, WebhookPayloadError> {
        WebhookEvent::decode(&serde_json::to_vec(body).unwrap(), 64 * 1024)
    }

    #[test]
    fn an_issue_update_is_read_with_its_changed_fields() {
        assert_eq!(
            decode(&issue_updated_body()).unwrap(),
            WebhookEvent {
                kind: WebhookEventKind::IssueUpdated,
                timestamp_ms: 1_767_605_400_000,
                issue_ids: vec!["10001".to_owned()],
                issue_key: Some("MKT-1".to_owned()),
                issue_updated: Some(datetime!(2026-01-05 09:30 UTC)),
                comment_id: None,
                worklog_id: None,
                changed_field_ids: vec!["status".to_owned(), "customfield_10016".to_owned()],
            }
        );
    }

    #[test]
    fn comments_worklogs_and_links_name_their_issues() {
        let comment = decode(&json!({"timestamp": 1, "webhookEvent": "comment_deleted",
            "comment": {"id": "10500", "body": "x", "author": {}},
            "issue": {"id": "10001", "key": "MKT-1", "fields": {"summary": "s"}}}))
        .unwrap();
        assert_eq!(comment.kind, WebhookEventKind::CommentDeleted);
        assert_eq!(comment.comment_id.as_deref(), Some("10500"));
        assert_eq!(comment.issue_ids, ["10001"]);
        assert_eq!(comment.issue_updated, None);

        let worklog = decode(&json!({"timestamp": 2, "webhookEvent": "worklog_updated",
            "worklog": {"id": "10200", "issueId": "10007", "timeSpentSeconds": 60}}))
        .unwrap();
        assert_eq!(worklog.kind, WebhookEventKind::WorklogUpdated);
        assert_eq!(worklog.worklog_id.as_deref(), Some("10200"));
        assert_eq!(worklog.issue_ids, ["10007"]);
        assert_eq!(worklog.issue_key, None);

        let link = decode(&json!({"timestamp": 3, "webhookEvent": "issuelink_created",
            "issueLink": {"id": 10300, "sourceIssueId": 10001, "destinationIssueId": "10002",
                "issueLinkType": {"id": 10000, "name": "Blocks"}, "systemLink": false}}))
        .unwrap();
        assert_eq!(link.kind, WebhookEventKind::IssueLinkCreated);
        assert_eq!(link.issue_ids, ["10001", "10002"]);

        let other = decode(
            &json!({"timestamp": 4, "webhookEvent": "issue_property_set",
            "property": {"key": "k"}, "issue": {"id": "10003"}}),
        )
        .unwrap();
        assert_eq!(
            other.kind,
            WebhookEventKind::Other("issue_property_set".to_owned())
        );
        assert_eq!(other.issue_ids, ["10003"]);
    }

    #[test]
    fn what_a_kind_needs_must_be_there() {
        let cases = [
            (
                json!({"webhookEvent": "jira:issue_created", "issue": {"id": "1"}}),
                "timestamp",
            ),
            (
                json!({"timestamp": 1, "issue": {"id": "1"}}),
                "webhookEvent",
            ),
            (
                json!({"timestamp": 1, "webhookEvent": "jira:issue_deleted", "issue": {"key": "A-1"}}),
                "issue.id",
            ),
            (
                json!({"timestamp": 1, "webhookEvent": "jira:issue_deleted"}),
                "issue.id",
            ),
            (
                json!({"timestamp": 1, "webhookEvent": "comment_created", "issue": {"id": "1"}}),
                "comment.id",
            ),
            (
                json!({"timestamp": 1, "webhookEvent": "comment_created", "comment": {"id": "1"}}),
                "issue.id",
            ),
            (
                json!({"timestamp": 1, "webhookEvent": "worklog_deleted", "worklog": {"id": "1"}}),
                "worklog.issueId",
            ),
            (
                json!({"timestamp": 1, "webhookEvent": "issuelink_deleted", "issueLink": {"sourceIssueId": 1}}),
                "issueLink.destinationIssueId",
            ),
        ];
        for (body, missing) in cases {
            assert_eq!(
                decode(&body),
                Err(WebhookPayloadError::Missing(missing)),
                "{body}"
            );
        }
        let invalid = [
            (json!({"timestamp": "1", "webhookEvent": "x"}), "timestamp"),
            (json!({"timestamp": 1.5, "webhookEvent": "x"}), "timestamp"),
            (json!({"timestamp": 1, "webhookEvent": 7}), "webhookEvent"),
            (
                json!({"timestamp": 1, "webhookEvent": "jira:issue_created", "issue": {"id": "10a"}}),
                "issue.id",
            ),
            (
                json!({"timestamp": 1, "webhookEvent": "jira:issue_created", "issue": {"id": -1}}),
                "issue.id",
            ),
            (
                json!({"timestamp": 1, "webhookEvent": "jira:issue_created", "issue": {"id": "1", "key": 5}}),
                "issue.key",
            ),
            (
                json!({"timestamp": 1, "webhookEvent": "jira:issue_created", "issue": {"id": "1", "fields": {"updated": "yesterday"}}}),
                "issue.fields.updated",
            ),
            (
                json!({"timestamp": 1, "webhookEvent": "jira:issue_created", "issue": "1"}),
                "issue",
            ),
            (
                json!({"timestamp": 1, "webhookEvent": "jira:issue_updated", "issue": {"id": "1"}, "changelog": {"items": {}}}),
                "changelog.items",
            ),
        ];
        for (body, what) in invalid {
            assert_eq!(
                decode(&body),
                Err(WebhookPayloadError::Invalid(what)),
                "{body}"
            );
        }
    }

    #[test]
    fn bodies_over_the_limit_or_not_objects_are_refused_unread() {
        let body = serde_json::to_vec(&issue_updated_body()).unwrap();
        assert_eq!(
            WebhookEvent::decode(&body, body.len() - 1),
            Err(WebhookPayloadError::TooLarge {
                len: body.len(),
                max: body.len() - 1
            })
        );
        assert!(WebhookEvent::decode(&body, body.len()).is_ok());
        for bad in [&b"[]"[..], b"null", b"", b"{\"timestamp\":", b"\xff\xfe"] {
            assert!(
                matches!(
                    WebhookEvent::decode(bad, 1024),
                    Err(WebhookPayloadError::NotJson(_))
                ),
                "{bad:?}"
            );
        }
        let e = WebhookEvent::decode(b"{\"secret\": CANARY-value}", 1024).unwrap_err();
        assert!(!e.to_string().contains("CANARY"), "{e}");
    }

    #[test]
    fn event_kinds_round_trip_through_their_names() {
        for kind in WebhookEventKind::KNOWN {
            assert_eq!(WebhookEventKind::from_name(kind.name()), kind);
            assert_eq!(serde_json::to_value(&kind).unwrap(), json!(kind.name()));
        }
        let other: WebhookEventKind = serde_json::from_value(json!("board_created")).unwrap();
        assert_eq!(other, WebhookEventKind::Other("board_created".to_owned()));
        assert_eq!(other.to_string(), "board_created");
    }

    #[test]
    fn jira_times_are_read_in_both_forms() {
        let want = datetime!(2019-06-01 12:42:30 UTC);
        for text in [
            "2019-06-01T12:42:30.000+0000",
            "2019-06-01T12:42:30+0000",
            "2019-06-01T14:42:30.000+0200",
            "2019-06-01T12:42:30Z",
            "2019-06-01T12:42:30.000Z",
        ] {
            assert_eq!(parse_jira_time(text), Some(want), "{text}");
        }
        for bad in ["", "2019-06-01", "yesterday", "2019-06-01T12:42:30"] {
            assert_eq!(parse_jira_time(bad), None, "{bad}");
        }
    }

    /// A change of one byte at `at % len` to `to` (which differs from the original).
    fn mutate(bytes: &[u8], at: usize, to: u8) -> Option<Vec<u8>> {
        let at = at % bytes.len();
        (bytes[at] != to).then(|| {
            let mut out = bytes.to_vec();
            out[at] = to;
            out
        })
    }

    proptest! {
        #[test]
        fn any_single_byte_change_to_a_token_fails(at in any::<usize>(), to in 0u8..0x80) {
            let token = valid_token();
            prop_assume!(verify(&token).is_ok());
            if let Some(changed) = mutate(token.as_bytes(), at, to) {
                let changed = String::from_utf8(changed).unwrap();
                prop_assert!(verify(&changed).is_err(), "{}", changed);
            }
        }

        #[test]
        fn any_single_byte_change_to_a_signed_body_or_its_signature_fails(
            body in proptest::collection::vec(any::<u8>(), 1..512),
            at in any::<usize>(),
            to in any::<u8>(),
        ) {
            let header = hub(&body, b"s3cret");
            prop_assert!(verify_hub_signature(&body, Some(&header), b"s3cret").is_ok());
            if let Some(changed) = mutate(&body, at, to) {
                prop_assert!(verify_hub_signature(&changed, Some(&header), b"s3cret").is_err());
            }
            if let Some(changed) = mutate(header.as_bytes(), at, to)
                && let Ok(changed) = String::from_utf8(changed)
            {
                prop_assert!(verify_hub_signature(&body, Some(&changed), b"s3cret").is_err());
            }
        }

        #[test]
        fn decode_never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = WebhookEvent::decode(&bytes, 4096);
        }

        #[test]
        fn decode_never_panics_on_a_changed_valid_body(
            at in any::<usize>(),
            to in any::<u8>(),
            cut in any::<usize>(),
        ) {
            let body = serde_json::to_vec(&issue_updated_body()).unwrap();
            if let Some(changed) = mutate(&body, at, to) {
                let _ = WebhookEvent::decode(&changed, 4096);
                let _ = WebhookEvent::decode(&changed[..cut % changed.len()], 4096);
            }
        }

        #[test]
        fn decode_never_panics_on_any_json_shape(value in json_value()) {
            let mut body = json!({"timestamp": 1, "webhookEvent": "jira:issue_updated"});
            for key in ["issue", "comment", "worklog", "issueLink", "changelog"] {
                body[key] = value.clone();
            }
            let _ = decode(&body);
            let _ = decode(&value);
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            "[a-zA-Z0-9:_-]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("id".to_owned()),
                        Just("issueId".to_owned()),
                        Just("key".to_owned()),
                        Just("fields".to_owned()),
                        Just("updated".to_owned()),
                        Just("items".to_owned()),
                        Just("fieldId".to_owned()),
                        Just("sourceIssueId".to_owned()),
                        Just("destinationIssueId".to_owned()),
                        "[a-z]{1,6}",
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
