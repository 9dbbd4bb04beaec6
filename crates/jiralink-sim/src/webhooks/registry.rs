//! Registered webhooks of every site and the failed deliveries Jira keeps for apps.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Events a webhook may subscribe to.
pub const SUPPORTED_EVENTS: &[&str] = &[
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
    "worklog_created",
    "worklog_updated",
    "worklog_deleted",
    "issuelink_created",
    "issuelink_deleted",
];

/// A dynamic webhook lives this long after registration or its last refresh (Jira: 30 days).
pub const LIFETIME_MS: i64 = 30 * 86_400_000;

/// Failed deliveries stay listed this long (Jira: 72 hours).
pub const FAILED_KEPT_MS: i64 = 72 * 3_600_000;

/// First id of a dynamic webhook, as on Jira Cloud.
const FIRST_DYNAMIC_ID: u64 = 10_000;

/// Which API registered a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookKind {
    /// `/rest/api/3/webhook`, by an OAuth 2.0 app; expires.
    Dynamic,
    /// `/rest/webhooks/1.0/webhook`, by a site administrator.
    Admin,
}

/// Names one webhook in logs and queues.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WebhookRef {
    /// Dynamic or admin.
    pub kind: WebhookKind,
    /// Its id.
    pub id: u64,
    /// Subdomain of its site.
    pub site: String,
}

/// A shared secret; never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret's text, for signing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// A webhook registered by an OAuth app on one site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicWebhook {
    /// Id.
    pub id: u64,
    /// The app.
    pub client_id: String,
    /// Subdomain of the site.
    pub site: String,
    /// The site's cloud id (the `iss` of delivery tokens).
    pub cloud_id: String,
    /// The account that registered it (`currentUser()` in its JQL).
    pub account_id: String,
    /// Where deliveries go.
    pub url: String,
    /// Subscribed events.
    pub events: Vec<String>,
    /// The JQL the issue must match.
    pub jql: String,
    /// For `jira:issue_updated`: deliver only when one of these fields changed.
    pub field_ids: Option<Vec<String>>,
    /// Expiry (epoch ms, simulator clock).
    pub expires_ms: i64,
}

/// A webhook registered by a site administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminWebhook {
    /// Id.
    pub id: u64,
    /// Subdomain of the site.
    pub site: String,
    /// Name.
    pub name: String,
    /// Where deliveries go.
    pub url: String,
    /// Subscribed events.
    pub events: Vec<String>,
    /// `filters["issue-related-events-section"]`; none or blank matches every issue.
    pub jql: Option<String>,
    /// Send deliveries without a body.
    pub exclude_body: bool,
    /// Deliveries carry `X-Hub-Signature` when set.
    pub secret: Option<Secret>,
    /// Disabled webhooks deliver nothing.
    pub enabled: bool,
    /// Last change (epoch ms).
    pub last_updated_ms: i64,
    /// Who changed it last.
    pub last_updated_by: String,
}

/// A delivery Jira gave up on, as `GET /rest/api/3/webhook/failed` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedDelivery {
    /// The app.
    pub client_id: String,
    /// Subdomain of the site.
    pub site: String,
    /// The delivery's `X-Atlassian-Webhook-Identifier`.
    pub identifier: String,
    /// The JSON payload.
    pub body: String,
    /// The destination.
    pub url: String,
    /// When the last attempt failed (epoch ms, simulator clock).
    pub failure_ms: i64,
}

/// A registered webhook as the control API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookInfo {
    /// Dynamic or admin.
    pub kind: WebhookKind,
    /// Id.
    pub id: u64,
    /// Subdomain of the site.
    pub site: String,
    /// OAuth client id (dynamic) or the administrator's account id (admin).
    pub owner: String,
    /// Destination.
    pub url: String,
    /// Subscribed events.
    pub events: Vec<String>,
    /// JQL filter, if any.
    pub jql_filter: Option<String>,
    /// Field ids filter (dynamic only).
    pub field_ids_filter: Option<Vec<String>>,
    /// Expiry (dynamic only).
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Whether it delivers (admin webhooks can be disabled; expired ones do not).
    pub active: bool,
}

/// Every site's webhooks.
#[derive(Debug)]
pub struct Registry {
    /// Dynamic webhooks by id.
    pub dynamic: BTreeMap<u64, DynamicWebhook>,
    /// Admin webhooks by id.
    pub admin: BTreeMap<u64, AdminWebhook>,
    next_dynamic: u64,
    next_admin: u64,
    failed: Vec<FailedDelivery>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            dynamic: BTreeMap::new(),
            admin: BTreeMap::new(),
            next_dynamic: FIRST_DYNAMIC_ID,
            next_admin: 1,
            failed: Vec::new(),
        }
    }
}

impl Registry {
    /// Whether any webhook exists (writes record changes only then).
    pub fn is_empty(&self) -> bool {
        self.dynamic.is_empty() && self.admin.is_empty()
    }

    /// Adds a dynamic webhook, assigning its id.
    pub fn add_dynamic(&mut self, mut hook: DynamicWebhook) -> u64 {
        hook.id = self.next_dynamic;
        self.next_dynamic += 1;
        self.dynamic.insert(hook.id, hook);
        self.next_dynamic - 1
    }

    /// Adds an admin webhook, assigning its id.
    pub fn add_admin(&mut self, mut hook: AdminWebhook) -> u64 {
        hook.id = self.next_admin;
        self.next_admin += 1;
        self.admin.insert(hook.id, hook);
        self.next_admin - 1
    }

    /// The dynamic webhooks of one app on one site, by id.
    pub fn dynamic_of<'a>(
        &'a self,
        client_id: &'a str,
        site: &'a str,
    ) -> impl Iterator<Item = &'a DynamicWebhook> + 'a {
        self.dynamic
            .values()
            .filter(move |h| h.client_id == client_id && h.site == site)
    }

    /// Records a failed delivery.
    pub fn add_failed(&mut self, failed: FailedDelivery) {
        self.failed.push(failed);
    }

    /// One app's failures on one site after `after_ms`, oldest first, dropping those older than
    /// 72 hours at `now_ms`. Failures with the same time as the last one listed are never split
    /// across pages, as Jira documents.
    pub fn failed_of(
        &mut self,
        client_id: &str,
        site: &str,
        after_ms: Option<i64>,
        max: usize,
        now_ms: i64,
    ) -> Vec<FailedDelivery> {
        self.failed
            .retain(|f| now_ms - f.failure_ms <= FAILED_KEPT_MS);
        let mut mine: Vec<&FailedDelivery> = self
            .failed
            .iter()
            .filter(|f| f.client_id == client_id && f.site == site)
            .filter(|f| after_ms.is_none_or(|after| f.failure_ms > after))
            .collect();
        mine.sort_by_key(|f| f.failure_ms);
        let mut out: Vec<FailedDelivery> = Vec::new();
        for f in mine {
            let full = out.len() >= max;
            if full
                && out
                    .last()
                    .is_none_or(|last| last.failure_ms != f.failure_ms)
            {
                break;
            }
            out.push(f.clone());
        }
        out
    }

    /// Every webhook, dynamic first, for the control API.
    pub fn infos(&self, now_ms: i64) -> Vec<WebhookInfo> {
        let at =
            |ms: i64| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok();
        let dynamic = self.dynamic.values().map(|h| WebhookInfo {
            kind: WebhookKind::Dynamic,
            id: h.id,
            site: h.site.clone(),
            owner: h.client_id.clone(),
            url: h.url.clone(),
            events: h.events.clone(),
            jql_filter: Some(h.jql.clone()),
            field_ids_filter: h.field_ids.clone(),
            expires_at: at(h.expires_ms),
            active: h.expires_ms > now_ms,
        });
        let admin = self.admin.values().map(|h| WebhookInfo {
            kind: WebhookKind::Admin,
            id: h.id,
            site: h.site.clone(),
            owner: h.last_updated_by.clone(),
            url: h.url.clone(),
            events: h.events.clone(),
            jql_filter: h.jql.clone(),
            field_ids_filter: None,
            expires_at: None,
            active: h.enabled,
        });
        dynamic.chain(admin).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(client: &str, at: i64, n: u32) -> FailedDelivery {
        FailedDelivery {
            client_id: client.to_owned(),
            site: "demo".to_owned(),
            identifier: format!("d{n}"),
            body: "{}".to_owned(),
            url: "http://127.0.0.1:1/".to_owned(),
            failure_ms: at,
        }
    }

    #[test]
    fn failures_page_by_time_without_splitting_a_time_and_expire() {
        let mut r = Registry::default();
        for (n, at) in [(1, 10), (2, 20), (3, 20), (4, 30)] {
            r.add_failed(failure("app", at, n));
        }
        r.add_failed(failure("other", 15, 9));
        let ids = |v: Vec<FailedDelivery>| v.into_iter().map(|f| f.identifier).collect::<Vec<_>>();
        assert_eq!(
            ids(r.failed_of("app", "demo", None, 2, 40)),
            ["d1", "d2", "d3"]
        );
        assert_eq!(ids(r.failed_of("app", "demo", Some(20), 2, 40)), ["d4"]);
        assert!(
            r.failed_of("app", "demo", None, 10, 30 + FAILED_KEPT_MS + 1)
                .is_empty()
        );
    }

    #[test]
    fn secrets_are_redacted() {
        let s = Secret::new("hunter2".to_owned());
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
