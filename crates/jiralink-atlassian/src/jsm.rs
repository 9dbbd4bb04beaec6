//! Jira Service Management (`/rest/servicedeskapi`): `start`/`limit` paging.
//!
//! Every list answers `{"start","limit","size","isLastPage","values":[…]}`. The next page starts
//! at `start + size` (a page may be shorter than `limit` while more follow) and paging stops at
//! `isLastPage`. An empty page not marked last ends the stream with an error instead of asking
//! for the same page forever.

use futures::{Stream, stream};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::{
    client::JiraClient,
    error::AtlassianError,
    operation::{CUSTOMER_REQUESTS, ORGANIZATIONS, Operation, SERVICE_DESKS},
    platform::{SeenPages, flatten_pages},
};

/// A service desk (`GET /servicedesk`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDesk {
    /// Service desk id.
    pub id: String,
    /// Project id.
    pub project_id: Option<String>,
    /// Project key.
    pub project_key: Option<String>,
    /// Project name.
    pub project_name: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A customer request (`GET /request`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerRequest {
    /// Issue id.
    pub issue_id: String,
    /// Issue key.
    pub issue_key: Option<String>,
    /// Request type id.
    pub request_type_id: Option<String>,
    /// Service desk id.
    pub service_desk_id: Option<String>,
    /// Everything else (`requestFieldValues`, `currentStatus`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An organization (`GET /organization`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Organization {
    /// Organization id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Filters of the customer request list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestFilter {
    /// Only requests of this service desk.
    pub service_desk_id: Option<String>,
    /// `OPEN_REQUESTS`, `CLOSED_REQUESTS` or `ALL_REQUESTS` (Jira's default).
    pub request_status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page<T> {
    start: Option<u64>,
    size: Option<u64>,
    #[serde(default)]
    is_last_page: bool,
    #[serde(default = "Vec::new")]
    values: Vec<T>,
}

/// Page size asked for; JSM caps it per resource anyway.
pub const PAGE_LIMIT: u32 = 50;

impl JiraClient {
    /// Every service desk the account can see.
    pub fn service_desks(
        &self,
    ) -> impl Stream<Item = Result<ServiceDesk, AtlassianError>> + Send + 'static {
        self.jsm_pages(&SERVICE_DESKS, &["servicedesk"], Vec::new())
    }

    /// Every customer request matching `filter`.
    pub fn customer_requests(
        &self,
        filter: &RequestFilter,
    ) -> impl Stream<Item = Result<CustomerRequest, AtlassianError>> + Send + 'static {
        let mut query = Vec::new();
        if let Some(id) = &filter.service_desk_id {
            query.push(("serviceDeskId", id.clone()));
        }
        if let Some(status) = &filter.request_status {
            query.push(("requestStatus", status.clone()));
        }
        self.jsm_pages(&CUSTOMER_REQUESTS, &["request"], query)
    }

    /// Every organization.
    pub fn organizations(
        &self,
    ) -> impl Stream<Item = Result<Organization, AtlassianError>> + Send + 'static {
        self.jsm_pages(&ORGANIZATIONS, &["organization"], Vec::new())
    }

    fn jsm_pages<T: DeserializeOwned + Send + 'static>(
        &self,
        op: &'static Operation,
        segments: &'static [&'static str],
        query: Vec<(&'static str, String)>,
    ) -> impl Stream<Item = Result<T, AtlassianError>> + Send + 'static {
        let client = self.clone();
        let pages = stream::try_unfold(
            (Some(0u64), SeenPages::from_first(0)),
            move |(start, mut seen)| {
                let client = client.clone();
                let query = query.clone();
                async move {
                    let Some(start) = start else {
                        return Ok(None);
                    };
                    let mut call = client
                        .call(op, segments)?
                        .query("start", start)
                        .query("limit", PAGE_LIMIT);
                    for (name, value) in query {
                        call = call.query(name, value);
                    }
                    let page: Page<T> = client.json(call).await?;
                    let got = page.size.unwrap_or(page.values.len() as u64);
                    let next = if page.is_last_page {
                        None
                    } else if got == 0 {
                        return Err(AtlassianError::Decode {
                            what: op.id,
                            detail: "an empty page was not marked as the last".to_owned(),
                        });
                    } else {
                        Some(seen.admit(page.start.unwrap_or(start) + got, op, "start")?)
                    };
                    Ok(Some((page.values, (next, seen))))
                }
            },
        );
        flatten_pages(pages)
    }
}
