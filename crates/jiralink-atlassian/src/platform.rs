//! Typed operations of the Jira platform REST API v3 and the gateway.
//!
//! Response types hold the fields jiralink uses; everything else Jira sends is kept in
//! `extra`, so nothing is lost when a record is passed on.

use std::{collections::HashSet, hash::Hash};

use futures::{Stream, TryStreamExt as _, stream};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, value::RawValue};

use crate::{
    client::{Answer, JiraClient, decode, json_bytes},
    error::AtlassianError,
    operation::{
        ACCESSIBLE_RESOURCES, APPROXIMATE_COUNT, CHANGELOG_BULKFETCH, FIELDS, ISSUE_BULKFETCH,
        ISSUE_CREATE, ISSUE_DELETE, ISSUE_EDIT, ISSUE_GET, MYSELF, Operation, SEARCH_JQL,
        SERVER_INFO, TENANT_INFO,
    },
};

/// The account a connection acts as (`GET /myself`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Myself {
    /// Atlassian account id.
    pub account_id: String,
    /// Name shown in Jira.
    pub display_name: Option<String>,
    /// E-mail, when the account's privacy settings show it.
    pub email_address: Option<String>,
    /// The account's time zone, which JQL dates without a zone are read in.
    pub time_zone: Option<String>,
    /// Whether the account is active.
    pub active: Option<bool>,
    /// `atlassian`, `app` or `customer`.
    pub account_type: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `GET /serverInfo`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    /// The site's base URL.
    pub base_url: Option<String>,
    /// Jira version.
    pub version: Option<String>,
    /// `Cloud` on Jira Cloud.
    pub deployment_type: Option<String>,
    /// The site's title.
    pub server_title: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A site an OAuth 2.0 token may reach (`GET /oauth/token/accessible-resources`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessibleResource {
    /// The cloud id.
    pub id: String,
    /// The site's name.
    pub name: String,
    /// The site URL; choose sites by it, never by position.
    pub url: String,
    /// Scopes granted for this site.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Site avatar.
    pub avatar_url: Option<String>,
}

/// `GET {site}/_edge/tenant_info`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantInfo {
    /// The cloud id of the site.
    pub cloud_id: String,
}

/// An issue as search, get and bulk fetch return it.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Issue {
    /// Numeric id, as text.
    pub id: String,
    /// Issue key, e.g. `ED-24`.
    pub key: Option<String>,
    /// The REST URL of the issue.
    #[serde(rename = "self")]
    pub self_url: Option<String>,
    /// The requested fields.
    #[serde(default)]
    pub fields: Map<String, Value>,
    /// Everything else (`changelog`, `renderedFields`, `properties`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An issue search (`POST /search/jql`). Leave `fields` empty for ids only.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    /// A bounded JQL query.
    pub jql: String,
    /// Fields to return (`*all`, `*navigable`, names, `-name` to exclude).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Comma-separated expansions, e.g. `changelog,names`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expand: Option<String>,
    /// Issue properties to return (at most 5).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<String>,
    /// Whether `fields` holds field keys rather than ids.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fields_by_keys: bool,
    /// Page size (Jira's default 50).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u32>,
    /// Issue ids to read consistently despite index lag (at most 50).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reconcile_issues: Vec<u64>,
}

/// A request body of an endpoint paged over `nextPageToken`: the request's fields and, after
/// the first page, the token.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenBody<'a, R> {
    #[serde(flatten)]
    request: &'a R,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchPage {
    /// Required: an answer without it is not a search page, not an empty last page.
    issues: Vec<Issue>,
    #[serde(default)]
    is_last: Option<bool>,
    next_page_token: Option<String>,
}

/// `POST /issue` body: `fields` and `update` as in the OpenAPI `IssueUpdateDetails`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct IssueInput {
    /// Field values to set.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub fields: Map<String, Value>,
    /// Update operations (`add`, `set`, `remove`, …) per field.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub update: Map<String, Value>,
    /// Issue properties to set, `[{"key":…,"value":…}]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Value>,
}

/// The answer to `POST /issue`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct CreatedIssue {
    /// Numeric id, as text.
    pub id: String,
    /// Issue key.
    pub key: String,
    /// REST URL.
    #[serde(rename = "self")]
    pub self_url: Option<String>,
}

/// Options of `PUT /issue/{key}`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct EditOptions {
    /// Send notifications (Jira's default: yes).
    pub notify_users: bool,
}

impl Default for EditOptions {
    fn default() -> Self {
        Self { notify_users: true }
    }
}

/// `POST /issue/bulkfetch` body.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkFetchRequest {
    /// Issue ids or keys (at most 100).
    pub issue_ids_or_keys: Vec<String>,
    /// Fields to return (Jira's default `*navigable`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Expansions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expand: Vec<String>,
    /// Issue properties (at most 5).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<String>,
    /// Whether `fields` holds keys.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fields_by_keys: bool,
}

/// The answer to `POST /issue/bulkfetch`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkFetchResult {
    /// Issues found, by ascending id.
    #[serde(default)]
    pub issues: Vec<Issue>,
    /// Problems per requested issue.
    #[serde(default)]
    pub issue_errors: Vec<Value>,
}

/// `POST /changelog/bulkfetch` body (without the page token).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangelogRequest {
    /// Issue ids or keys (1 to 1000).
    pub issue_ids_or_keys: Vec<String>,
    /// Only changes to these fields (at most 10).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub field_ids: Vec<String>,
    /// Page size (Jira's default 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u32>,
}

/// The changelog of one issue, as one page of `POST /changelog/bulkfetch` holds it.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueChangelog {
    /// Issue id.
    pub issue_id: String,
    /// Change groups (`id`, `author`, `created`, `items`), oldest first.
    #[serde(default)]
    pub change_histories: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangelogPage {
    #[serde(default)]
    issue_change_logs: Vec<IssueChangelog>,
    next_page_token: Option<String>,
}

/// One page of `POST /search/jql` with every issue kept as the JSON text Jira sent, so a
/// caller that only passes issues on never builds a typed value for their fields.
#[derive(Debug)]
pub struct RawSearchPage {
    /// The page's issues, in the search's order.
    pub issues: Vec<Box<RawValue>>,
    /// The token of the next page; `None` on the last page.
    pub next_page_token: Option<String>,
    /// Field names by id, for the whole page (`expand=names`).
    pub names: Option<Box<RawValue>>,
    /// Field schemas by id, for the whole page (`expand=schema`).
    pub schema: Option<Box<RawValue>>,
    /// The size of the answer's body.
    pub bytes: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSearchBody {
    /// Required: an answer without it is not a search page, not an empty last page.
    issues: Vec<Box<RawValue>>,
    #[serde(default)]
    is_last: Option<bool>,
    next_page_token: Option<String>,
    #[serde(default)]
    names: Option<Box<RawValue>>,
    #[serde(default)]
    schema: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct Count {
    count: u64,
}

#[derive(Serialize)]
struct JqlOnly<'a> {
    jql: &'a str,
}

impl JiraClient {
    /// The account the credentials belong to.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn myself(&self) -> Result<Myself, AtlassianError> {
        self.json(self.call(&MYSELF, &["myself"])?).await
    }

    /// The site's version and base URL.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn server_info(&self) -> Result<ServerInfo, AtlassianError> {
        self.json(self.call(&SERVER_INFO, &["serverInfo"])?).await
    }

    /// The sites and scopes an OAuth 2.0 token may reach (bearer credentials, gateway).
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn accessible_resources(&self) -> Result<Vec<AccessibleResource>, AtlassianError> {
        self.json(self.call(
            &ACCESSIBLE_RESOURCES,
            &["oauth", "token", "accessible-resources"],
        )?)
        .await
    }

    /// The site's cloud id from `{site}/_edge/tenant_info`, asked without credentials.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn tenant_info(&self) -> Result<TenantInfo, AtlassianError> {
        self.json(
            self.call(&TENANT_INFO, &["_edge", "tenant_info"])?
                .anonymous(),
        )
        .await
    }

    /// Every issue matching `request`, page by page over `nextPageToken`, until Jira says
    /// `isLast` or sends no token. A token already followed (A→B→A as well as A→A) ends the
    /// stream with an error rather than looping.
    pub fn search_jql(
        &self,
        request: SearchRequest,
    ) -> impl Stream<Item = Result<Issue, AtlassianError>> + Send + 'static {
        self.token_pages(&SEARCH_JQL, &["search", "jql"], request, search_page_issues)
    }

    /// One page of an issue search, each issue kept as sent. `token` is the previous page's
    /// [`RawSearchPage::next_page_token`] (`None` for the first page).
    ///
    /// # Errors
    /// Any [`AtlassianError`]; Jira answers 400 for a token it no longer honours.
    pub async fn search_jql_page_raw(
        &self,
        request: &SearchRequest,
        token: Option<&str>,
    ) -> Result<RawSearchPage, AtlassianError> {
        let body = TokenBody {
            request,
            next_page_token: token,
        };
        let call = self
            .call(&SEARCH_JQL, &["search", "jql"])?
            .json_body(&body)?;
        let answer = self.execute(call).await?;
        read_raw_search_page(&answer)
    }

    /// One page of an issue search as the bytes Jira sent (JSON, not parsed here), for a
    /// caller that reads pages faster than a general parser would. `token` as in
    /// [`search_jql_page_raw`](Self::search_jql_page_raw).
    ///
    /// # Errors
    /// Any [`AtlassianError`]; an HTML or empty answer is
    /// [`AtlassianError::UnexpectedContent`].
    pub async fn search_jql_page_bytes(
        &self,
        request: &SearchRequest,
        token: Option<&str>,
    ) -> Result<Vec<u8>, AtlassianError> {
        let body = TokenBody {
            request,
            next_page_token: token,
        };
        let call = self
            .call(&SEARCH_JQL, &["search", "jql"])?
            .json_body(&body)?;
        json_bytes(self.execute(call).await?)
    }

    /// Up to 100 issues by id or key: the answer (`{"issues":[…],"issueErrors":[…]}`) as the
    /// bytes Jira sent, for a caller that keeps each issue's JSON text as it is.
    ///
    /// # Errors
    /// Any [`AtlassianError`]; an HTML or empty answer is
    /// [`AtlassianError::UnexpectedContent`].
    pub async fn issue_bulkfetch_bytes(
        &self,
        request: &BulkFetchRequest,
    ) -> Result<Vec<u8>, AtlassianError> {
        let call = self
            .call(&ISSUE_BULKFETCH, &["issue", "bulkfetch"])?
            .json_body(request)?;
        json_bytes(self.execute(call).await?)
    }

    /// Every field of the site, system and custom (`GET /field`), as Jira sends them
    /// (`id`, `key`, `name`, `custom`, `schema`, …).
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn fields(&self) -> Result<Vec<Value>, AtlassianError> {
        self.json(self.call(&FIELDS, &["field"])?).await
    }

    /// The changelogs of many issues, page by page over `nextPageToken` (an issue with many
    /// changes may span pages, so the same `issue_id` can come more than once).
    pub fn changelog_bulkfetch(
        &self,
        request: ChangelogRequest,
    ) -> impl Stream<Item = Result<IssueChangelog, AtlassianError>> + Send + 'static {
        self.token_pages(
            &CHANGELOG_BULKFETCH,
            &["changelog", "bulkfetch"],
            request,
            |page: ChangelogPage| Ok((page.issue_change_logs, page.next_page_token)),
        )
    }

    /// The records of a `POST` endpoint paged over `nextPageToken`; `split` takes a page's
    /// records and the token of the next page (`None` on the last).
    fn token_pages<R, P, T>(
        &self,
        op: &'static Operation,
        segments: &'static [&'static str],
        request: R,
        split: fn(P) -> Result<TokenPage<T>, AtlassianError>,
    ) -> impl Stream<Item = Result<T, AtlassianError>> + Send + 'static
    where
        R: Serialize + Send + Sync + 'static,
        P: serde::de::DeserializeOwned + Send + 'static,
        T: Send + 'static,
    {
        let client = self.clone();
        let pages = stream::try_unfold(
            (Some(None::<String>), client, request, SeenPages::default()),
            move |(token, client, request, mut seen)| async move {
                let Some(token) = token else {
                    return Ok(None);
                };
                let body = TokenBody {
                    request: &request,
                    next_page_token: token.as_deref(),
                };
                let call = client.call(op, segments)?.json_body(&body)?;
                let page: P = client.json(call).await?;
                let (records, next) = split(page)?;
                let next = match next {
                    None => None,
                    Some(next) => Some(Some(seen.admit(next, op, "nextPageToken")?)),
                };
                Ok(Some((records, (next, client, request, seen))))
            },
        );
        flatten_pages(pages)
    }

    /// An estimate of how many issues match a bounded `jql`.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn approximate_count(&self, jql: &str) -> Result<u64, AtlassianError> {
        let call = self
            .call(&APPROXIMATE_COUNT, &["search", "approximate-count"])?
            .json_body(&JqlOnly { jql })?;
        let count: Count = self.json(call).await?;
        Ok(count.count)
    }

    /// One issue; `fields` empty means Jira's default (all fields).
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn issue_get(&self, key: &str, fields: &[&str]) -> Result<Issue, AtlassianError> {
        let mut call = self.call(&ISSUE_GET, &["issue", key])?;
        if !fields.is_empty() {
            call = call.query("fields", fields.join(","));
        }
        self.json(call).await
    }

    /// Creates an issue. Never sent twice: after a timeout or a reset it fails with
    /// [`AtlassianError::Ambiguous`], and the caller must check whether it exists.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn issue_create(&self, issue: &IssueInput) -> Result<CreatedIssue, AtlassianError> {
        let call = self.call(&ISSUE_CREATE, &["issue"])?.json_body(issue)?;
        self.json(call).await
    }

    /// Edits an issue (204 on success).
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn issue_edit(
        &self,
        key: &str,
        edit: &IssueInput,
        options: EditOptions,
    ) -> Result<(), AtlassianError> {
        let mut call = self.call(&ISSUE_EDIT, &["issue", key])?.json_body(edit)?;
        if !options.notify_users {
            call = call.query("notifyUsers", "false");
        }
        self.execute(call).await.map(drop)
    }

    /// Deletes an issue with its subtasks; `false` when it was already gone (404).
    ///
    /// # Errors
    /// Any other [`AtlassianError`].
    pub async fn issue_delete(&self, key: &str) -> Result<bool, AtlassianError> {
        let call = self
            .call(&ISSUE_DELETE, &["issue", key])?
            .query("deleteSubtasks", "true");
        match self.execute(call).await {
            Ok(_) => Ok(true),
            Err(AtlassianError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Up to 100 issues by id or key in one request.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn issue_bulkfetch(
        &self,
        request: &BulkFetchRequest,
    ) -> Result<BulkFetchResult, AtlassianError> {
        let call = self
            .call(&ISSUE_BULKFETCH, &["issue", "bulkfetch"])?
            .json_body(request)?;
        self.json(call).await
    }
}

/// The page positions (tokens, cursors, offsets) a stream has already asked for. A server that
/// hands back any earlier one, not only the last, would otherwise be followed round forever.
#[derive(Debug)]
pub(crate) struct SeenPages<K>(HashSet<K>);

impl<K> Default for SeenPages<K> {
    fn default() -> Self {
        Self(HashSet::new())
    }
}

impl<K: Eq + Hash + Clone> SeenPages<K> {
    /// Positions where `first` (the position of the first page) counts as asked for.
    pub(crate) fn from_first(first: K) -> Self {
        Self(HashSet::from([first]))
    }

    /// `next` if it has not been asked for yet; `field` names it in the error otherwise.
    pub(crate) fn admit(
        &mut self,
        next: K,
        op: &Operation,
        field: &str,
    ) -> Result<K, AtlassianError> {
        if self.0.insert(next.clone()) {
            Ok(next)
        } else {
            Err(AtlassianError::Decode {
                what: op.id,
                detail: format!(
                    "jira pointed back to a {field} already read, so the pages would loop"
                ),
            })
        }
    }
}

/// Turns a stream of pages into a stream of records; the first error ends it.
pub(crate) fn flatten_pages<T, S>(
    pages: S,
) -> impl Stream<Item = Result<T, AtlassianError>> + Send + 'static
where
    T: Send + 'static,
    S: Stream<Item = Result<Vec<T>, AtlassianError>> + Send + 'static,
{
    pages
        .map_ok(|records| stream::iter(records.into_iter().map(Ok::<T, AtlassianError>)))
        .try_flatten()
}

/// A page's records and the token of the next page.
type TokenPage<T> = (Vec<T>, Option<String>);

/// A decoded `search/jql` page's issues and where the search continues.
pub(crate) fn search_page_issues(page: SearchPage) -> Result<TokenPage<Issue>, AtlassianError> {
    let next = search_continuation(page.is_last, page.next_page_token)?;
    Ok((page.issues, next))
}

/// A `search/jql` answer with each issue kept as the JSON text Jira sent.
pub(crate) fn read_raw_search_page(answer: &Answer) -> Result<RawSearchPage, AtlassianError> {
    let page: RawSearchBody = decode(&SEARCH_JQL, answer)?;
    let next_page_token = search_continuation(page.is_last, page.next_page_token)?;
    Ok(RawSearchPage {
        issues: page.issues,
        next_page_token,
        names: page.names,
        schema: page.schema,
        bytes: answer.body.len(),
    })
}

/// Where an issue search continues: `nextPageToken`, unless `isLast` says the page is the
/// last (an empty token counts as none; so does a missing one when `isLast` is missing too).
/// The one place this rule lives, for every reader of `search/jql` pages.
///
/// # Errors
/// [`AtlassianError::Decode`] for a page that says more pages follow (`isLast: false`) but
/// sends no token: read as the last page, it would end an export early without a word.
pub fn search_continuation(
    is_last: Option<bool>,
    token: Option<String>,
) -> Result<Option<String>, AtlassianError> {
    match (is_last, token.filter(|t| !t.is_empty())) {
        (Some(true), _) | (None, None) => Ok(None),
        (Some(false), None) => Err(AtlassianError::Decode {
            what: SEARCH_JQL.id,
            detail: "the page says more pages follow (isLast: false) but has no nextPageToken"
                .to_owned(),
        }),
        (_, Some(token)) => Ok(Some(token)),
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn a_search_continues_at_its_token_and_never_ends_silently() {
        use super::search_continuation as next;
        assert_eq!(
            next(Some(false), Some("t".into())).unwrap(),
            Some("t".into())
        );
        assert_eq!(next(None, Some("t".into())).unwrap(), Some("t".into()));
        assert_eq!(next(Some(true), Some("t".into())).unwrap(), None);
        assert_eq!(next(Some(true), None).unwrap(), None);
        assert_eq!(next(None, None).unwrap(), None);
        assert_eq!(next(None, Some(String::new())).unwrap(), None);
        assert!(next(Some(false), None).is_err());
        assert!(next(Some(false), Some(String::new())).is_err());
    }

    use super::*;

    type SearchBody<'a> = TokenBody<'a, SearchRequest>;

    #[test]
    fn search_body_matches_the_openapi_field_names() {
        let request = SearchRequest {
            jql: "project = A ORDER BY key".into(),
            fields: vec!["summary".into()],
            expand: Some("names".into()),
            max_results: Some(2),
            reconcile_issues: vec![10000],
            ..SearchRequest::default()
        };
        let body = SearchBody {
            request: &request,
            next_page_token: Some("t1"),
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"jql":"project = A ORDER BY key","fields":["summary"],"expand":"names","maxResults":2,"reconcileIssues":[10000],"nextPageToken":"t1"})
        );
        let first = SearchBody {
            request: &SearchRequest {
                jql: "x".into(),
                ..SearchRequest::default()
            },
            next_page_token: None,
        };
        assert_eq!(serde_json::to_value(&first).unwrap(), json!({"jql":"x"}));
    }

    #[test]
    fn a_search_answer_without_issues_does_not_decode() {
        for body in [r#"{"isLast":true}"#, "{}", r#"{"issues":null}"#] {
            assert!(
                serde_json::from_str::<RawSearchBody>(body).is_err(),
                "{body}"
            );
            assert!(serde_json::from_str::<SearchPage>(body).is_err(), "{body}");
        }
        let raw: RawSearchBody = serde_json::from_str(r#"{"issues":[],"isLast":true}"#).unwrap();
        assert!(raw.issues.is_empty());
        let typed: SearchPage = serde_json::from_str(r#"{"issues":[],"isLast":true}"#).unwrap();
        assert!(typed.issues.is_empty());
    }

    #[test]
    fn issues_keep_unknown_fields() {
        let issue: Issue = serde_json::from_value(
            json!({"id":"1","key":"A-1","self":"u","fields":{"summary":"s"},"changelog":{"histories":[]}}),
        )
        .unwrap();
        assert_eq!(issue.fields["summary"], "s");
        assert!(issue.extra.contains_key("changelog"));
    }

    #[test]
    fn myself_reads_the_documented_shape() {
        let me: Myself = serde_json::from_value(json!({
            "accountId":"5b10","accountType":"atlassian","active":true,"displayName":"Mia",
            "emailAddress":"mia@example.com","timeZone":"Australia/Sydney","self":"u"
        }))
        .unwrap();
        assert_eq!(me.account_id, "5b10");
        assert_eq!(me.time_zone.as_deref(), Some("Australia/Sydney"));
        assert_eq!(me.extra["self"], "u");
    }
}
