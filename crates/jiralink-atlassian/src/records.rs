//! Lists read as raw JSON records, one page at a time, for exports.
//!
//! An export keeps each record as the bytes Jira sent ([`RawRecord`]) and writes it on, so
//! nothing is lost and nothing is decoded twice. It also checkpoints after every page, so a
//! list is read page by page: [`JiraClient::record_page`] reads the page at a position and says
//! where the next one starts ([`PageAt`], serializable into a checkpoint), whichever of Jira's
//! paging styles the list uses:
//!
//! | Style | Lists | Next page |
//! |---|---|---|
//! | platform `startAt`/`maxResults` | comments, worklogs, changelog of an issue, projects, priorities, resolutions, users | `startAt + records` until `isLast`, `total` or a short page |
//! | one array | fields, statuses, issue types | none |
//! | JSM `start`/`limit` | service desks, request types, customer requests, desk customers, organizations (all or of a desk) | `start + size` until `isLastPage` |
//! | CSM cursor | products, entitlements | `nextPageCursor` until absent |
//!
//! Worklog changes (`/worklog/updated`, `/worklog/deleted`) page by time ([`WorklogChanges`]),
//! and worklogs and CSM profiles are read by id ([`JiraClient::worklogs_by_id`],
//! [`JiraClient::csm_customer_profiles`], [`JiraClient::csm_organization_profiles`]).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::{
    client::JiraClient,
    error::AtlassianError,
    operation::{
        CSM_CUSTOMER_PROFILES, CSM_ENTITLEMENTS, CSM_ORGANIZATION_PROFILES, CSM_PRODUCTS,
        CUSTOMER_REQUEST, CUSTOMER_REQUESTS, DESK_CUSTOMERS, DESK_ORGANIZATIONS, FIELDS,
        ISSUE_CHANGELOG, ISSUE_COMMENTS, ISSUE_TYPES, ISSUE_WORKLOGS, ORGANIZATIONS, Operation,
        PRIORITY_SEARCH, PROJECT_SEARCH, REQUEST_TYPES, RESOLUTION_SEARCH, SERVICE_DESKS, STATUSES,
        USERS_ALL, WORKLOG_LIST, WORKLOGS_DELETED, WORKLOGS_UPDATED,
    },
};

/// One record exactly as Jira sent it.
pub type RawRecord = Box<RawValue>;

/// Where a page starts. Serialized into export checkpoints as `{"offset":50}`,
/// `{"cursor":"…"}` or `{"since":1767605400000}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PageAt {
    /// `startAt` (platform) or `start` (JSM).
    Offset(u64),
    /// A CSM `cursor`.
    Cursor(String),
    /// Epoch milliseconds (worklog changes).
    Since(i64),
}

/// One page of a list.
#[derive(Debug)]
pub struct RecordPage {
    /// The records, in Jira's order.
    pub records: Vec<RawRecord>,
    /// Where the next page starts; `None` after the last page.
    pub next: Option<PageAt>,
}

/// A list exports read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordList {
    /// `GET /issue/{issue}/comment`, oldest first.
    Comments {
        /// Issue id or key.
        issue: String,
    },
    /// `GET /issue/{issue}/worklog`.
    Worklogs {
        /// Issue id or key.
        issue: String,
    },
    /// `GET /issue/{issue}/changelog`, oldest first.
    IssueChangelog {
        /// Issue id or key.
        issue: String,
    },
    /// `GET /project/search`.
    Projects,
    /// `GET /users/search`: every user, app and customer account.
    Users,
    /// `GET /field`.
    Fields,
    /// `GET /status`.
    Statuses,
    /// `GET /issuetype`.
    IssueTypes,
    /// `GET /priority/search`.
    Priorities,
    /// `GET /resolution/search`.
    Resolutions,
    /// `GET /servicedesk` (JSM).
    ServiceDesks,
    /// `GET /servicedesk/{id}/requesttype` (JSM).
    RequestTypes {
        /// Service desk id.
        service_desk: String,
    },
    /// `GET /request` (JSM).
    CustomerRequests {
        /// Only requests of this service desk.
        service_desk: Option<String>,
    },
    /// `GET /servicedesk/{id}/customer` (JSM, experimental).
    DeskCustomers {
        /// Service desk id.
        service_desk: String,
    },
    /// `GET /organization` (JSM).
    Organizations,
    /// `GET /servicedesk/{id}/organization` (JSM).
    DeskOrganizations {
        /// Service desk id.
        service_desk: String,
    },
    /// `GET /product` (CSM).
    CsmProducts,
    /// `GET /entitlements` (CSM).
    CsmEntitlements,
}

/// How a list pages.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Style {
    /// `{"values"|"comments"|"worklogs":[…],"startAt","total"?,"isLast"?}`.
    StartAt,
    /// A bare array paged over `startAt`/`maxResults`; a short page is the last.
    ArrayPaged,
    /// A bare array, all at once.
    Array,
    /// JSM `{"values","start","size","isLastPage"}`.
    Jsm,
    /// CSM `{"results","nextPageCursor"}`.
    Cursor,
}

/// Largest page each style asks for (Jira caps them further per list).
const PLATFORM_PAGE: u32 = 100;
const USER_PAGE: u32 = 1_000;
const WORKLOG_PAGE: u32 = 5_000;
const JSM_PAGE: u32 = 50;
const CSM_PAGE: u32 = 100;

/// Ids per `POST /worklog/list`.
pub const WORKLOG_IDS_PER_CALL: usize = 1_000;
/// Ids per `POST /customer/profile/fetch`.
pub const CUSTOMER_PROFILES_PER_CALL: usize = 100;
/// Ids per `POST /organization/profile/fetch`.
pub const ORGANIZATION_PROFILES_PER_CALL: usize = 25;

impl RecordList {
    fn op(&self) -> &'static Operation {
        match self {
            Self::Comments { .. } => &ISSUE_COMMENTS,
            Self::Worklogs { .. } => &ISSUE_WORKLOGS,
            Self::IssueChangelog { .. } => &ISSUE_CHANGELOG,
            Self::Projects => &PROJECT_SEARCH,
            Self::Users => &USERS_ALL,
            Self::Fields => &FIELDS,
            Self::Statuses => &STATUSES,
            Self::IssueTypes => &ISSUE_TYPES,
            Self::Priorities => &PRIORITY_SEARCH,
            Self::Resolutions => &RESOLUTION_SEARCH,
            Self::ServiceDesks => &SERVICE_DESKS,
            Self::RequestTypes { .. } => &REQUEST_TYPES,
            Self::CustomerRequests { .. } => &CUSTOMER_REQUESTS,
            Self::DeskCustomers { .. } => &DESK_CUSTOMERS,
            Self::Organizations => &ORGANIZATIONS,
            Self::DeskOrganizations { .. } => &DESK_ORGANIZATIONS,
            Self::CsmProducts => &CSM_PRODUCTS,
            Self::CsmEntitlements => &CSM_ENTITLEMENTS,
        }
    }

    fn style(&self) -> Style {
        match self {
            Self::Comments { .. }
            | Self::Worklogs { .. }
            | Self::IssueChangelog { .. }
            | Self::Projects
            | Self::Priorities
            | Self::Resolutions => Style::StartAt,
            Self::Users => Style::ArrayPaged,
            Self::Fields | Self::Statuses | Self::IssueTypes => Style::Array,
            Self::ServiceDesks
            | Self::RequestTypes { .. }
            | Self::CustomerRequests { .. }
            | Self::DeskCustomers { .. }
            | Self::Organizations
            | Self::DeskOrganizations { .. } => Style::Jsm,
            Self::CsmProducts | Self::CsmEntitlements => Style::Cursor,
        }
    }

    /// The largest page size worth asking for.
    #[must_use]
    pub fn max_page(&self) -> u32 {
        match (self, self.style()) {
            (Self::Worklogs { .. }, _) => WORKLOG_PAGE,
            (Self::Users, _) => USER_PAGE,
            (_, Style::Jsm) => JSM_PAGE,
            (_, Style::Cursor) => CSM_PAGE,
            _ => PLATFORM_PAGE,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartAtPage {
    #[serde(default, alias = "comments", alias = "worklogs")]
    values: Vec<RawRecord>,
    start_at: Option<u64>,
    total: Option<u64>,
    is_last: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsmPage {
    start: Option<u64>,
    size: Option<u64>,
    #[serde(default)]
    is_last_page: bool,
    #[serde(default)]
    values: Vec<RawRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CursorPage {
    #[serde(default)]
    results: Vec<RawRecord>,
    next_page_cursor: Option<String>,
}

/// One page of `GET /worklog/updated` or `GET /worklog/deleted`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorklogChanges {
    /// The worklogs changed (or deleted), oldest first.
    #[serde(default)]
    pub values: Vec<WorklogChange>,
    /// The time of the last change listed (the next page's `since`).
    pub until: Option<i64>,
    /// Whether no further changes follow.
    #[serde(default = "yes")]
    pub last_page: bool,
}

fn yes() -> bool {
    true
}

/// One changed (or deleted) worklog.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorklogChange {
    /// Worklog id.
    pub worklog_id: u64,
    /// When it changed, epoch milliseconds.
    pub updated_time: i64,
}

#[derive(Serialize)]
struct WorklogIds<'a> {
    ids: &'a [u64],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CustomerIds<'a> {
    customer_ids: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrganizationIds<'a> {
    organization_ids: &'a [String],
}

/// Which list of worklog changes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum WorklogChangeKind {
    /// `GET /worklog/updated`: created or edited.
    Updated,
    /// `GET /worklog/deleted`.
    Deleted,
}

fn decode_error(op: &Operation, detail: &str) -> AtlassianError {
    AtlassianError::Decode {
        what: op.id,
        detail: detail.to_owned(),
    }
}

impl JiraClient {
    /// The page of `list` starting at `at` (`None`: the first page), asking for at most
    /// `limit` records (capped at [`RecordList::max_page`]; Jira may send fewer).
    ///
    /// # Errors
    /// Any [`AtlassianError`]; a page that would make the list loop (an empty page not marked
    /// last, a cursor or offset that does not move) is a [`AtlassianError::Decode`].
    pub async fn record_page(
        &self,
        list: &RecordList,
        at: Option<&PageAt>,
        limit: u32,
    ) -> Result<RecordPage, AtlassianError> {
        let op = list.op();
        let limit = limit.clamp(1, list.max_page());
        let style = list.style();
        let mut call = match list {
            RecordList::Comments { issue } => self.call(op, &["issue", issue, "comment"])?,
            RecordList::Worklogs { issue } => self.call(op, &["issue", issue, "worklog"])?,
            RecordList::IssueChangelog { issue } => {
                self.call(op, &["issue", issue, "changelog"])?
            }
            RecordList::Projects => self.call(op, &["project", "search"])?,
            RecordList::Users => self.call(op, &["users", "search"])?,
            RecordList::Fields => self.call(op, &["field"])?,
            RecordList::Statuses => self.call(op, &["status"])?,
            RecordList::IssueTypes => self.call(op, &["issuetype"])?,
            RecordList::Priorities => self.call(op, &["priority", "search"])?,
            RecordList::Resolutions => self.call(op, &["resolution", "search"])?,
            RecordList::ServiceDesks => self.call(op, &["servicedesk"])?,
            RecordList::RequestTypes { service_desk } => {
                self.call(op, &["servicedesk", service_desk, "requesttype"])?
            }
            RecordList::CustomerRequests { service_desk } => {
                let call = self.call(op, &["request"])?;
                match service_desk {
                    Some(id) => call.query("serviceDeskId", id),
                    None => call,
                }
            }
            RecordList::DeskCustomers { service_desk } => self
                .call(op, &["servicedesk", service_desk, "customer"])?
                .experimental(),
            RecordList::Organizations => self.call(op, &["organization"])?,
            RecordList::DeskOrganizations { service_desk } => {
                self.call(op, &["servicedesk", service_desk, "organization"])?
            }
            RecordList::CsmProducts => self.call(op, &["product"])?,
            RecordList::CsmEntitlements => self.call(op, &["entitlements"])?,
        };
        let offset = match at {
            None => 0,
            Some(PageAt::Offset(n)) => *n,
            Some(other) => {
                if style != Style::Cursor {
                    return Err(decode_error(
                        op,
                        &format!("a checkpoint holds {other:?}, which this list does not page by"),
                    ));
                }
                0
            }
        };
        match style {
            Style::StartAt => {
                if matches!(list, RecordList::Comments { .. }) {
                    call = call.query("orderBy", "created");
                }
                call = call.query("startAt", offset).query("maxResults", limit);
                let page: StartAtPage = self.json(call).await?;
                let records = page.values;
                let got = records.len() as u64;
                let start = page.start_at.unwrap_or(offset);
                let more = match (page.is_last, page.total) {
                    (Some(last), _) => !last,
                    (None, Some(total)) => start + got < total,
                    (None, None) => got >= u64::from(limit),
                };
                let next = next_offset(more, start, got, op)?;
                Ok(RecordPage { records, next })
            }
            Style::ArrayPaged => {
                call = call.query("startAt", offset).query("maxResults", limit);
                let records: Vec<RawRecord> = self.json(call).await?;
                let got = records.len() as u64;
                // A bare array says nothing of what follows: a full page may have more.
                let next = next_offset(got >= u64::from(limit), offset, got, op)?;
                Ok(RecordPage { records, next })
            }
            Style::Array => {
                let records: Vec<RawRecord> = self.json(call).await?;
                Ok(RecordPage {
                    records,
                    next: None,
                })
            }
            Style::Jsm => {
                call = call.query("start", offset).query("limit", limit);
                let page: JsmPage = self.json(call).await?;
                let got = page.size.unwrap_or(page.values.len() as u64);
                let start = page.start.unwrap_or(offset);
                let next = next_offset(!page.is_last_page, start, got, op)?;
                Ok(RecordPage {
                    records: page.values,
                    next,
                })
            }
            Style::Cursor => {
                call = call.query("limit", limit);
                let current = match at {
                    Some(PageAt::Cursor(c)) => Some(c.as_str()),
                    _ => None,
                };
                if let Some(c) = current {
                    call = call.query("cursor", c);
                }
                let page: CursorPage = self.json(call).await?;
                let next = match page.next_page_cursor.filter(|c| !c.is_empty()) {
                    None => None,
                    Some(next) if Some(next.as_str()) == current => {
                        return Err(decode_error(
                            op,
                            "jira pointed back to the cursor just read, so the pages would loop",
                        ));
                    }
                    Some(next) => Some(PageAt::Cursor(next)),
                };
                Ok(RecordPage {
                    records: page.results,
                    next,
                })
            }
        }
    }

    /// Every record of `list` over all its pages, as sent, in Jira's order; `None` when Jira
    /// answers 404 on any page — for a per-issue list (comments, worklogs, changelog) the issue
    /// was deleted (or hidden from the account) while it was being read, and the caller skips
    /// it. The one way exports read an issue's comments and worklogs.
    ///
    /// # Errors
    /// Any [`AtlassianError`] but not-found, as [`record_page`](Self::record_page).
    pub async fn record_list_all(
        &self,
        list: &RecordList,
    ) -> Result<Option<Vec<RawRecord>>, AtlassianError> {
        let mut at: Option<PageAt> = None;
        let mut all = Vec::new();
        loop {
            let page = match self.record_page(list, at.as_ref(), list.max_page()).await {
                Ok(page) => page,
                Err(AtlassianError::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            all.extend(page.records);
            match page.next {
                Some(next) => at = Some(next),
                None => return Ok(Some(all)),
            }
        }
    }

    /// The customer request of one issue (`GET /request/{issue}`, JSM), as sent; `None` when
    /// the issue is not a request (or not visible as one).
    ///
    /// # Errors
    /// Any [`AtlassianError`] but not-found.
    pub async fn customer_request(&self, issue: &str) -> Result<Option<RawRecord>, AtlassianError> {
        let call = self.call(&CUSTOMER_REQUEST, &["request", issue])?;
        match self.json(call).await {
            Ok(record) => Ok(Some(record)),
            Err(AtlassianError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Worklogs changed (or deleted) after `since` (epoch milliseconds), up to 1000 per page;
    /// the next page asks from [`WorklogChanges::until`]. Jira leaves out the last minute.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn worklog_changes(
        &self,
        kind: WorklogChangeKind,
        since: i64,
    ) -> Result<WorklogChanges, AtlassianError> {
        let call = match kind {
            WorklogChangeKind::Updated => self.call(&WORKLOGS_UPDATED, &["worklog", "updated"])?,
            WorklogChangeKind::Deleted => self.call(&WORKLOGS_DELETED, &["worklog", "deleted"])?,
        };
        self.json(call.query("since", since)).await
    }

    /// The worklogs with these ids (at most [`WORKLOG_IDS_PER_CALL`]); unknown ids are left
    /// out.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn worklogs_by_id(&self, ids: &[u64]) -> Result<Vec<RawRecord>, AtlassianError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let call = self
            .call(&WORKLOG_LIST, &["worklog", "list"])?
            .json_body(&WorklogIds { ids })?;
        self.json(call).await
    }

    /// CSM customer profiles (account, details, organizations) of these customer ids (at most
    /// [`CUSTOMER_PROFILES_PER_CALL`]); unknown ids are left out. Experimental at Atlassian.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn csm_customer_profiles(
        &self,
        ids: &[String],
    ) -> Result<Vec<RawRecord>, AtlassianError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let call = self
            .call(&CSM_CUSTOMER_PROFILES, &["customer", "profile", "fetch"])?
            .experimental()
            .json_body(&CustomerIds { customer_ids: ids })?;
        let page: CursorPage = self.json(call).await?;
        Ok(page.results)
    }

    /// CSM organization profiles (organization, details, customers) of these organization ids
    /// (at most [`ORGANIZATION_PROFILES_PER_CALL`]); unknown ids are left out. Experimental at
    /// Atlassian.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn csm_organization_profiles(
        &self,
        ids: &[String],
    ) -> Result<Vec<RawRecord>, AtlassianError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let call = self
            .call(
                &CSM_ORGANIZATION_PROFILES,
                &["organization", "profile", "fetch"],
            )?
            .experimental()
            .json_body(&OrganizationIds {
                organization_ids: ids,
            })?;
        let page: CursorPage = self.json(call).await?;
        Ok(page.results)
    }
}

/// The next offset when `more` pages follow `start` and this one held `got` records.
fn next_offset(
    more: bool,
    start: u64,
    got: u64,
    op: &Operation,
) -> Result<Option<PageAt>, AtlassianError> {
    match (more, got) {
        (false, _) => Ok(None),
        (true, 0) => Err(decode_error(
            op,
            "an empty page was not marked as the last, so the pages would loop",
        )),
        (true, got) => Ok(Some(PageAt::Offset(start + got))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_serialize_readably() {
        assert_eq!(
            serde_json::to_string(&PageAt::Offset(50)).unwrap(),
            r#"{"offset":50}"#
        );
        assert_eq!(
            serde_json::to_string(&PageAt::Cursor("c".into())).unwrap(),
            r#"{"cursor":"c"}"#
        );
        let back: PageAt = serde_json::from_str(r#"{"since":12}"#).unwrap();
        assert_eq!(back, PageAt::Since(12));
    }

    #[test]
    fn an_empty_page_that_is_not_last_is_refused() {
        assert!(next_offset(true, 10, 0, &ISSUE_COMMENTS).is_err());
        assert_eq!(
            next_offset(true, 10, 5, &ISSUE_COMMENTS).unwrap(),
            Some(PageAt::Offset(15))
        );
        assert_eq!(next_offset(false, 10, 0, &ISSUE_COMMENTS).unwrap(), None);
    }

    #[test]
    fn worklog_changes_read_the_documented_shape() {
        let page: WorklogChanges = serde_json::from_str(
            r#"{"values":[{"worklogId":103,"updatedTime":1438013671562,"properties":[]}],"since":1438013671562,"until":1438013693136,"self":"u","nextPage":"n","lastPage":true}"#,
        )
        .unwrap();
        assert_eq!(page.values[0].worklog_id, 103);
        assert_eq!(page.until, Some(1_438_013_693_136));
        assert!(page.last_page);
    }
}
