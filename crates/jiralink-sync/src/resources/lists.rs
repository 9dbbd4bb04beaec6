//! The catalogue, people, Jira Service Management and Customer Service Management lists.
//!
//! | Resource | Read from | Record |
//! |---|---|---|
//! | projects, users, fields, statuses, issue types, priorities, resolutions | `/project/search`, `/users/search`, `/field`, `/status`, `/issuetype`, `/priority/search`, `/resolution/search` | as Jira sends it |
//! | service desks | `/servicedesk` | as sent |
//! | request types | `/servicedesk/{id}/requesttype` for each desk (or the one asked for) | as sent |
//! | customer requests | `/request` (of one desk when asked); with a JQL, see `children` | as sent |
//! | JSM customers | `/servicedesk/{id}/customer` for each desk | as sent, with `serviceDeskId` added (one record per desk a customer belongs to) |
//! | JSM organizations | `/organization`, or `/servicedesk/{id}/organization` for one desk | as sent |
//! | CSM customers | the customers of every desk (JSM), then `POST /customer/profile/fetch` (CSM) | the CSM profile, once per customer |
//! | CSM organizations | `/organization` (JSM), then `POST /organization/profile/fetch` (CSM) | the CSM profile |
//! | CSM products, entitlements | `/product`, `/entitlements` | as sent |
//!
//! CSM has no list of all customers or organizations: jiralink reaches them through the JSM
//! lists of the same site, so a CSM customer who is a customer of no service desk is not
//! exported.

use std::collections::BTreeSet;

use jiralink_atlassian::{
    JiraClient, PageAt, RecordList, records::CUSTOMER_PROFILES_PER_CALL,
    records::ORGANIZATION_PROFILES_PER_CALL,
};
use serde_json::{Value, value::RawValue};

use super::{Flow, Pos, Sink, with_fields};
use crate::{engine::ExportOutcome, error::SyncError, spec::Resource};

/// Runs a list export from `pos`.
pub(crate) async fn run(
    client: &JiraClient,
    mut sink: Sink<'_, '_>,
    mut pos: Pos,
) -> Result<ExportOutcome, SyncError> {
    let spec = sink.job().spec;
    let resource = spec.resource;
    let kind = resource.as_str();
    // CSM customers and organizations need the JSM lists of the same site as well.
    let client = match resource {
        Resource::CsmCustomers | Resource::CsmOrganizations => {
            client.with_base(client.base().with_gateway_companions())
        }
        _ => client.clone(),
    };
    if !pos.planned {
        pos.units = plan(&client, resource, spec.service_desk.as_deref()).await?;
        pos.planned = true;
    }
    let mut seen: BTreeSet<String> = pos.seen.iter().cloned().collect();
    while !pos.done {
        let Some(unit) = pos.units.get(pos.unit).cloned() else {
            pos.done = true;
            sink.checkpoint(&[], &pos).await?;
            break;
        };
        let list = list_of(resource, &unit).ok_or_else(|| {
            SyncError::InvalidSpec(format!("{} are not a list", resource.label()))
        })?;
        let limit = sink
            .room()
            .map_or(list.max_page(), |r| u32::try_from(r).unwrap_or(u32::MAX));
        let page = client.record_page(&list, pos.at.as_ref(), limit).await?;
        let records = match resource {
            Resource::JsmCustomers => page
                .records
                .iter()
                .map(|r| with_fields(r, &[("serviceDeskId", &unit)]))
                .collect::<Result<Vec<_>, _>>()?,
            Resource::CsmCustomers => {
                let ids = new_ids(&page.records, "accountId", &mut seen)?;
                let mut profiles = Vec::new();
                for chunk in ids.chunks(CUSTOMER_PROFILES_PER_CALL) {
                    profiles.extend(client.csm_customer_profiles(chunk).await?);
                }
                pos.seen = seen.iter().cloned().collect();
                profiles
            }
            Resource::CsmOrganizations => {
                let ids = new_ids(&page.records, "id", &mut seen)?;
                let mut profiles = Vec::new();
                for chunk in ids.chunks(ORGANIZATION_PROFILES_PER_CALL) {
                    profiles.extend(client.csm_organization_profiles(chunk).await?);
                }
                // Organizations are listed once each: no need to remember them.
                seen.clear();
                profiles
            }
            _ => page.records,
        };
        match page.next {
            Some(next) => pos.at = Some(next),
            None => {
                pos.at = None;
                pos.unit += 1;
                pos.done = pos.unit >= pos.units.len();
            }
        }
        match sink.page(&records, kind, &pos).await? {
            Flow::Continue => {}
            Flow::Full => break,
            Flow::Cancelled => return sink.outcome(None, true),
        }
    }
    sink.outcome(None, false)
}

/// The ids in `records` (under `key`) not yet in `seen`, which they are added to.
fn new_ids(
    records: &[Box<RawValue>],
    key: &str,
    seen: &mut BTreeSet<String>,
) -> Result<Vec<String>, SyncError> {
    let mut ids = Vec::new();
    for record in records {
        let value: Value = serde_json::from_str(record.get())
            .map_err(|e| SyncError::Decode(format!("a record Jira sent ({e})")))?;
        let id = match value.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => continue,
        };
        if seen.insert(id.clone()) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// The list of `resource` for one unit of its plan (`None` for the issue-search resources,
/// which are not lists).
fn list_of(resource: Resource, unit: &str) -> Option<RecordList> {
    let desk = || unit.to_owned();
    let one_desk = || (!unit.is_empty()).then(|| unit.to_owned());
    Some(match resource {
        Resource::Projects => RecordList::Projects,
        Resource::Users => RecordList::Users,
        Resource::Fields => RecordList::Fields,
        Resource::Statuses => RecordList::Statuses,
        Resource::IssueTypes => RecordList::IssueTypes,
        Resource::Priorities => RecordList::Priorities,
        Resource::Resolutions => RecordList::Resolutions,
        Resource::ServiceDesks => RecordList::ServiceDesks,
        Resource::RequestTypes => RecordList::RequestTypes {
            service_desk: desk(),
        },
        Resource::CustomerRequests => RecordList::CustomerRequests {
            service_desk: one_desk(),
        },
        Resource::JsmCustomers | Resource::CsmCustomers => RecordList::DeskCustomers {
            service_desk: desk(),
        },
        Resource::JsmOrganizations => match one_desk() {
            Some(service_desk) => RecordList::DeskOrganizations { service_desk },
            None => RecordList::Organizations,
        },
        Resource::CsmOrganizations => RecordList::Organizations,
        Resource::CsmProducts => RecordList::CsmProducts,
        Resource::CsmEntitlements => RecordList::CsmEntitlements,
        Resource::Issues | Resource::Comments | Resource::Worklogs | Resource::Changelogs => {
            return None;
        }
    })
}

/// The units a resource's run reads, fixed when it starts: a service desk id each for the
/// per-desk lists, one unit (`""`, or the desk asked for) otherwise.
async fn plan(
    client: &JiraClient,
    resource: Resource,
    service_desk: Option<&str>,
) -> Result<Vec<String>, SyncError> {
    let per_desk = matches!(
        resource,
        Resource::RequestTypes | Resource::JsmCustomers | Resource::CsmCustomers
    );
    let one_desk = matches!(
        resource,
        Resource::CustomerRequests | Resource::JsmOrganizations
    );
    let needs_desks = per_desk || (one_desk && service_desk.is_some());
    if !needs_desks {
        return Ok(vec![String::new()]);
    }
    let desks = service_desks(client).await?;
    match service_desk.map(str::trim).filter(|s| !s.is_empty()) {
        Some(wanted) => {
            let found = desks.iter().find(|d| {
                d.id == wanted
                    || d.project_key.eq_ignore_ascii_case(wanted)
                    || d.project_name.eq_ignore_ascii_case(wanted)
            });
            match found {
                Some(desk) => Ok(vec![desk.id.clone()]),
                None => Err(SyncError::InvalidSpec(format!(
                    "no service desk has the id, project key or name {wanted:?}; the connection sees {}",
                    if desks.is_empty() {
                        "none".to_owned()
                    } else {
                        desks
                            .iter()
                            .map(|d| format!("{} ({})", d.project_key, d.id))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ))),
            }
        }
        None => Ok(desks.into_iter().map(|d| d.id).collect()),
    }
}

struct Desk {
    id: String,
    project_key: String,
    project_name: String,
}

/// Every service desk (id, project key and name).
async fn service_desks(client: &JiraClient) -> Result<Vec<Desk>, SyncError> {
    let mut at: Option<PageAt> = None;
    let mut desks = Vec::new();
    loop {
        let page = client
            .record_page(&RecordList::ServiceDesks, at.as_ref(), 100)
            .await?;
        for record in &page.records {
            let v: Value = serde_json::from_str(record.get())
                .map_err(|e| SyncError::Decode(format!("a service desk ({e})")))?;
            let text = |k: &str| match v.get(k) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            desks.push(Desk {
                id: text("id"),
                project_key: text("projectKey"),
                project_name: text("projectName"),
            });
        }
        match page.next {
            Some(next) => at = Some(next),
            None => return Ok(desks),
        }
    }
}
