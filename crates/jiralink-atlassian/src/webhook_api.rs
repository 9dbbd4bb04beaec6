//! Dynamic webhooks (`/rest/api/3/webhook`): register, list, delete, refresh, and the
//! deliveries Jira gave up on.
//!
//! Only OAuth 2.0 (3LO) apps may call these, with the scope `manage:jira-webhook`; Jira
//! answers 403 to anyone else, which becomes [`AtlassianError::WebhooksNotAllowed`]. A webhook
//! belongs to the calling app on the calling site and expires 30 days after it was registered
//! or last refreshed.

use serde::{Deserialize, Deserializer, Serialize, de::Error as _};
use time::OffsetDateTime;
use url::Url;

use crate::{
    client::{JiraClient, decode},
    error::AtlassianError,
    operation::{
        WEBHOOKS_DELETE, WEBHOOKS_FAILED, WEBHOOKS_LIST, WEBHOOKS_REFRESH, WEBHOOKS_REGISTER,
    },
    webhooks::{WebhookEventKind, parse_jira_time},
};

/// The page size asked of the webhook list (Jira's default for it).
const LIST_PAGE: u64 = 100;

/// One webhook to register (`WebhookDetails`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSpec {
    /// The events it delivers.
    pub events: Vec<WebhookEventKind>,
    /// The JQL an issue must match for its events to be delivered (required by Jira).
    pub jql_filter: String,
    /// For `jira:issue_updated` only: deliver only when one of these fields changed; empty
    /// means every change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub field_ids_filter: Vec<String>,
}

/// The outcome of registering one [`WebhookSpec`]: the new webhook's id, or why Jira refused it.
pub type WebhookRegistration = Result<u64, Vec<String>>;

/// A webhook of the calling app (`Webhook`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredWebhook {
    /// The webhook's id.
    pub id: u64,
    /// The events it delivers.
    pub events: Vec<WebhookEventKind>,
    /// The JQL an issue must match.
    pub jql_filter: String,
    /// The fields whose change it is limited to (`jira:issue_updated`); empty for all.
    #[serde(default)]
    pub field_ids_filter: Vec<String>,
    /// Where it delivers, when Jira says.
    #[serde(default)]
    pub url: Option<String>,
    /// When it stops delivering unless refreshed.
    #[serde(rename = "expirationDate", deserialize_with = "jira_instant")]
    pub expiration: OffsetDateTime,
}

/// A delivery Jira gave up on after its retries (`FailedWebhook`); kept by Jira for 72 hours.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedDelivery {
    /// The delivery's identifier, as sent in `X-Atlassian-Webhook-Identifier`.
    pub id: String,
    /// The JSON payload as text. The document makes it optional, and its own example leaves
    /// it out of one record.
    #[serde(default)]
    pub body: Option<String>,
    /// Where the delivery was sent.
    pub url: String,
    /// When the last attempt failed.
    #[serde(deserialize_with = "jira_instant")]
    pub failure_time: OffsetDateTime,
}

/// One page of failed deliveries (`FailedWebhooks`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedDeliveries {
    /// The deliveries, oldest failure first.
    pub deliveries: Vec<FailedDelivery>,
    /// The page size Jira used; a shorter page is the last one for now.
    pub max_results: u32,
    /// The `after` of the next page, read from Jira's `next`; `None` when this page was empty
    /// (ask again later with the same `after`).
    pub next_after: Option<OffsetDateTime>,
}

impl FailedDeliveries {
    /// Whether another page is there now: this one was full (and not empty, whatever
    /// `maxResults` said) and Jira named a next one.
    #[must_use]
    pub fn more(&self) -> bool {
        self.next_after.is_some()
            && !self.deliveries.is_empty()
            && self.deliveries.len() >= self.max_results as usize
    }
}

#[derive(Serialize)]
struct RegistrationBody<'a> {
    url: &'a str,
    webhooks: &'a [WebhookSpec],
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegistrationAnswer {
    webhook_registration_result: Vec<RegistrationElement>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegistrationElement {
    created_webhook_id: Option<u64>,
    #[serde(default)]
    errors: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IdsBody<'a> {
    webhook_ids: &'a [u64],
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Expiration {
    #[serde(deserialize_with = "jira_instant")]
    expiration_date: OffsetDateTime,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FailedPage {
    values: Vec<FailedDelivery>,
    max_results: u32,
    #[serde(default)]
    next: Option<String>,
}

/// A time Jira writes as epoch milliseconds (as the document types `expirationDate` and
/// `failureTime`) or as text (as the document's examples and Jira Cloud write
/// `expirationDate`: `2019-06-01T12:42:30.000+0000`).
fn jira_instant<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OffsetDateTime, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Instant {
        Millis(i64),
        Text(String),
    }
    match Instant::deserialize(deserializer)? {
        Instant::Millis(ms) => {
            from_millis(ms).ok_or_else(|| D::Error::custom("a time out of range"))
        }
        Instant::Text(text) => {
            parse_jira_time(&text).ok_or_else(|| D::Error::custom("a time jira does not write"))
        }
    }
}

fn from_millis(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

fn millis(at: OffsetDateTime) -> i128 {
    at.unix_timestamp_nanos().div_euclid(1_000_000)
}

/// The `after` of the page Jira's `next` URL names (`after`, or `failedAfter` as the
/// document's example spells it). The URL itself is not followed: it names the site, while an
/// OAuth 2.0 connection must reach Jira through the API gateway.
fn next_after(next: &str) -> Option<OffsetDateTime> {
    let url = Url::parse(next).ok()?;
    let ms = url
        .query_pairs()
        .find(|(k, _)| k == "after")
        .or_else(|| url.query_pairs().find(|(k, _)| k == "failedAfter"))?
        .1
        .parse::<i64>()
        .ok()?;
    from_millis(ms)
}

/// Jira's 403 to a webhook operation always means the same thing: not an OAuth 2.0 app with
/// the scope `manage:jira-webhook`.
fn webhook_refusal<T>(result: Result<T, AtlassianError>) -> Result<T, AtlassianError> {
    result.map_err(|e| match e {
        AtlassianError::Forbidden { message, .. } => AtlassianError::WebhooksNotAllowed { message },
        other => other,
    })
}

fn not_sent(message: String) -> AtlassianError {
    AtlassianError::BadRequest {
        status: 400,
        messages: vec![message],
        field_errors: std::collections::BTreeMap::new(),
    }
}

impl JiraClient {
    /// Registers webhooks delivering to `url` and returns one outcome per spec, at the spec's
    /// position. Jira refuses specs one by one (an unsupported JQL, say) and registers the
    /// others. No spec sends nothing. Never sent twice: after a timeout it fails with
    /// [`AtlassianError::Ambiguous`], and [`list_webhooks`](Self::list_webhooks) tells what
    /// exists.
    ///
    /// # Errors
    /// [`AtlassianError::WebhooksNotAllowed`] for a connection that may not manage webhooks;
    /// [`AtlassianError::Decode`] when the answer does not hold one outcome per spec; any
    /// other [`AtlassianError`].
    pub async fn register_webhooks(
        &self,
        url: &Url,
        webhooks: &[WebhookSpec],
    ) -> Result<Vec<WebhookRegistration>, AtlassianError> {
        if webhooks.is_empty() {
            return Ok(Vec::new());
        }
        let op = &WEBHOOKS_REGISTER;
        let call = self.call(op, &["webhook"])?.json_body(&RegistrationBody {
            url: url.as_str(),
            webhooks,
        })?;
        let answer = webhook_refusal(self.execute(call).await)?;
        let parsed: RegistrationAnswer = decode(op, &answer)?;
        let got = parsed.webhook_registration_result.len();
        if got != webhooks.len() {
            return Err(AtlassianError::Decode {
                what: op.id,
                detail: format!("{got} outcomes for {} webhooks", webhooks.len()),
            });
        }
        parsed
            .webhook_registration_result
            .into_iter()
            .map(
                |element| match (element.created_webhook_id, element.errors) {
                    (Some(id), errors) if errors.is_empty() => Ok(Ok(id)),
                    (None, errors) if !errors.is_empty() => Ok(Err(errors
                        .iter()
                        .map(|e| crate::error::truncate(&answer.masker.clean(e)))
                        .collect())),
                    _ => Err(AtlassianError::Decode {
                        what: op.id,
                        detail: "an outcome holds neither an id nor errors, or both".to_owned(),
                    }),
                },
            )
            .collect()
    }

    /// Every webhook the calling app has on the site, every page.
    ///
    /// # Errors
    /// [`AtlassianError::WebhooksNotAllowed`]; any other [`AtlassianError`].
    pub async fn list_webhooks(&self) -> Result<Vec<RegisteredWebhook>, AtlassianError> {
        webhook_refusal(
            self.offset_pages(&WEBHOOKS_LIST, &["webhook"], LIST_PAGE)
                .await,
        )
    }

    /// Deletes the calling app's webhooks with these ids (Jira answers 202). No id sends
    /// nothing. Repeated after an unknown outcome, since deleting twice is deleting once.
    ///
    /// # Errors
    /// [`AtlassianError::WebhooksNotAllowed`]; any other [`AtlassianError`].
    pub async fn delete_webhooks(&self, ids: &[u64]) -> Result<(), AtlassianError> {
        if ids.is_empty() {
            return Ok(());
        }
        let call = self
            .call(&WEBHOOKS_DELETE, &["webhook"])?
            .json_body(&IdsBody { webhook_ids: ids })?;
        webhook_refusal(self.execute(call).await).map(drop)
    }

    /// Extends the life of the calling app's webhooks with these ids to 30 days from now (on
    /// Jira's clock) and returns their new expiry.
    ///
    /// # Errors
    /// [`AtlassianError::BadRequest`] without sending for no ids;
    /// [`AtlassianError::WebhooksNotAllowed`]; any other [`AtlassianError`].
    pub async fn refresh_webhooks(&self, ids: &[u64]) -> Result<OffsetDateTime, AtlassianError> {
        if ids.is_empty() {
            return Err(not_sent(format!(
                "not sent: {} needs at least one webhook id",
                WEBHOOKS_REFRESH.id
            )));
        }
        let call = self
            .call(&WEBHOOKS_REFRESH, &["webhook", "refresh"])?
            .json_body(&IdsBody { webhook_ids: ids })?;
        let answer: Expiration = webhook_refusal(self.json(call).await)?;
        Ok(answer.expiration_date)
    }

    /// One page of the deliveries to the calling app's webhooks that Jira gave up on, those
    /// that failed after `after` (all Jira keeps, 72 hours, for `None`). Continue with
    /// [`FailedDeliveries::next_after`] while [`FailedDeliveries::more`].
    ///
    /// # Errors
    /// [`AtlassianError::WebhooksNotAllowed`]; any other [`AtlassianError`].
    pub async fn failed_webhooks(
        &self,
        after: Option<OffsetDateTime>,
    ) -> Result<FailedDeliveries, AtlassianError> {
        let mut call = self.call(&WEBHOOKS_FAILED, &["webhook", "failed"])?;
        if let Some(after) = after {
            call = call.query("after", millis(after));
        }
        let page: FailedPage = webhook_refusal(self.json(call).await)?;
        let next_after = match page.next.as_deref() {
            None | Some("") => None,
            Some(next) => Some(
                next_after(next)
                    .or_else(|| page.values.last().map(|d| d.failure_time))
                    .ok_or_else(|| AtlassianError::Decode {
                        what: WEBHOOKS_FAILED.id,
                        detail: "the next page's url names no time to continue after".to_owned(),
                    })?,
            ),
        };
        Ok(FailedDeliveries {
            deliveries: page.values,
            max_results: page.max_results,
            next_after,
        })
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    #[test]
    fn specs_serialise_as_webhook_details() {
        let spec = WebhookSpec {
            events: vec![
                WebhookEventKind::IssueUpdated,
                WebhookEventKind::WorklogDeleted,
            ],
            jql_filter: "project = MKT".to_owned(),
            field_ids_filter: vec!["summary".to_owned()],
        };
        assert_eq!(
            serde_json::to_value(&spec).unwrap(),
            json!({"events": ["jira:issue_updated", "worklog_deleted"], "jqlFilter": "project = MKT", "fieldIdsFilter": ["summary"]})
        );
        let all = WebhookSpec {
            field_ids_filter: Vec::new(),
            ..spec
        };
        assert_eq!(
            serde_json::to_value(&all).unwrap(),
            json!({"events": ["jira:issue_updated", "worklog_deleted"], "jqlFilter": "project = MKT"})
        );
    }

    #[test]
    fn expiry_is_read_as_text_or_milliseconds() {
        let text: Expiration =
            serde_json::from_value(json!({"expirationDate": "2019-06-01T12:42:30.000+0000"}))
                .unwrap();
        let ms: Expiration =
            serde_json::from_value(json!({"expirationDate": 1_559_392_950_000_i64})).unwrap();
        assert_eq!(text.expiration_date, datetime!(2019-06-01 12:42:30 UTC));
        assert_eq!(ms.expiration_date, text.expiration_date);
        assert!(serde_json::from_value::<Expiration>(json!({"expirationDate": "June"})).is_err());
        assert!(serde_json::from_value::<Expiration>(json!({})).is_err());
    }

    #[test]
    fn the_next_page_is_where_the_next_url_says() {
        let at = datetime!(2019-11-12 06:34:33.48 UTC);
        assert_eq!(
            next_after(
                "https://demo.atlassian.net/rest/api/3/webhook/failed?failedAfter=1573540473480&maxResults=100"
            ),
            Some(at)
        );
        assert_eq!(
            next_after(
                "https://x.example/rest/api/3/webhook/failed?maxResults=100&after=1573540473480"
            ),
            Some(at)
        );
        assert_eq!(millis(at), 1_573_540_473_480);
        assert_eq!(
            next_after("https://x.example/rest/api/3/webhook/failed"),
            None
        );
        assert_eq!(next_after("not a url"), None);
    }

    #[test]
    fn only_a_full_page_with_a_next_one_asks_for_more() {
        let at = datetime!(2026-01-05 09:30 UTC);
        let delivery = FailedDelivery {
            id: "1".into(),
            body: None,
            url: "https://jiralink.example/hooks".into(),
            failure_time: at,
        };
        let page = |n: usize, max: u32, next: Option<OffsetDateTime>| FailedDeliveries {
            deliveries: vec![delivery.clone(); n],
            max_results: max,
            next_after: next,
        };
        assert!(page(2, 2, Some(at)).more());
        assert!(
            page(3, 2, Some(at)).more(),
            "one failure time is never split"
        );
        assert!(!page(1, 2, Some(at)).more());
        assert!(!page(2, 2, None).more());
        assert!(!page(0, 0, Some(at)).more());
    }

    #[test]
    fn only_a_403_becomes_the_webhook_refusal() {
        let forbidden = AtlassianError::Forbidden {
            missing_scope: None,
            message: "Only Connect and OAuth 2.0 apps can use this operation".to_owned(),
        };
        let e = webhook_refusal::<()>(Err(forbidden)).unwrap_err();
        assert!(matches!(e, AtlassianError::WebhooksNotAllowed { .. }));
        let shown = e.to_string();
        assert!(
            shown.contains("oauth 2.0") && shown.contains("manage:jira-webhook"),
            "{shown}"
        );
        assert_eq!(e.status(), Some(403));
        assert!(!e.is_retryable());
        let other = webhook_refusal::<()>(Err(AtlassianError::NotFound {
            message: None,
            html: false,
        }))
        .unwrap_err();
        assert!(matches!(other, AtlassianError::NotFound { .. }));
    }
}
