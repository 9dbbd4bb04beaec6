//! Raw record lists against the simulator: small pages return exactly the records one large
//! page does, each once, whatever paging style the list uses.

use std::collections::BTreeSet;

use jiralink_atlassian::{JiraClient, PageAt, RawRecord, RecordList, WorklogChangeKind};
use jiralink_domain::ApiType;
use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::{sim, sim_client as client};

/// Every record of `list`, `limit` at a time, and how many pages that took.
async fn read_all(client: &JiraClient, list: &RecordList, limit: u32) -> (Vec<Value>, usize) {
    let mut at: Option<PageAt> = None;
    let mut out = Vec::new();
    let mut pages = 0;
    loop {
        let page = client.record_page(list, at.as_ref(), limit).await.unwrap();
        pages += 1;
        out.extend(page.records.iter().map(parse));
        match page.next {
            Some(next) => at = Some(next),
            None => return (out, pages),
        }
        assert!(pages < 10_000, "{list:?} does not end");
    }
}

fn parse(raw: &RawRecord) -> Value {
    serde_json::from_str(raw.get()).unwrap()
}

fn ids(records: &[Value], key: &str) -> Vec<String> {
    records
        .iter()
        .map(|r| match &r[key] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

async fn same_in_small_pages(client: &JiraClient, list: RecordList, key: &str) -> usize {
    let (whole, _) = read_all(client, &list, list.max_page()).await;
    let (paged, pages) = read_all(client, &list, 2).await;
    let whole = ids(&whole, key);
    assert_eq!(ids(&paged, key), whole, "{list:?}");
    assert_eq!(
        whole.iter().collect::<BTreeSet<_>>().len(),
        whole.len(),
        "{list:?}: no record twice"
    );
    if whole.len() > 2 {
        assert!(pages > 1, "{list:?} paged");
    }
    whole.len()
}

#[tokio::test]
async fn platform_lists_page_to_the_end_each_record_once() {
    let sim = sim().await;
    let c = client(&sim, ApiType::CloudPlatform);
    for (list, key) in [
        (RecordList::Projects, "id"),
        (RecordList::Users, "accountId"),
        (RecordList::Priorities, "id"),
        (RecordList::Resolutions, "id"),
        (RecordList::ServiceDesks, "id"),
        (RecordList::Organizations, "id"),
        (
            RecordList::CustomerRequests { service_desk: None },
            "issueId",
        ),
    ] {
        let n = same_in_small_pages(&c, list.clone(), key).await;
        assert!(n > 0, "{list:?} is empty");
    }
    for list in [
        RecordList::Fields,
        RecordList::Statuses,
        RecordList::IssueTypes,
    ] {
        let (records, pages) = read_all(&c, &list, 1).await;
        assert_eq!(pages, 1, "{list:?} is one array");
        assert!(!records.is_empty(), "{list:?}");
    }
}

#[tokio::test]
async fn issue_lists_and_desk_lists_page_to_the_end() {
    let sim = sim().await;
    let c = client(&sim, ApiType::CloudPlatform);
    let issue = "DEMO-1".to_owned();
    same_in_small_pages(
        &c,
        RecordList::Comments {
            issue: issue.clone(),
        },
        "id",
    )
    .await;
    same_in_small_pages(
        &c,
        RecordList::Worklogs {
            issue: issue.clone(),
        },
        "id",
    )
    .await;
    same_in_small_pages(&c, RecordList::IssueChangelog { issue }, "id").await;
    let n = same_in_small_pages(
        &c,
        RecordList::RequestTypes {
            service_desk: "1".into(),
        },
        "id",
    )
    .await;
    assert!(n >= 4, "the seeded request types");
    let (customers, _) = read_all(
        &c,
        &RecordList::DeskCustomers {
            service_desk: "1".into(),
        },
        50,
    )
    .await;
    assert_eq!(customers.len(), 18, "the seeded customers of desk 1");
    let (orgs, _) = read_all(
        &c,
        &RecordList::DeskOrganizations {
            service_desk: "1".into(),
        },
        2,
    )
    .await;
    assert_eq!(orgs.len(), 3, "organizations 1-3 are on desk 1");
}

#[tokio::test]
async fn worklog_changes_and_worklogs_by_id() {
    let sim = sim().await;
    let c = client(&sim, ApiType::CloudPlatform);
    let changes = c
        .worklog_changes(WorklogChangeKind::Updated, 0)
        .await
        .unwrap();
    assert!(!changes.values.is_empty(), "the simulator seeds worklogs");
    let ids: Vec<u64> = changes.values.iter().map(|v| v.worklog_id).collect();
    let worklogs = c.worklogs_by_id(&ids).await.unwrap();
    assert_eq!(worklogs.len(), ids.len());
    let deleted = c
        .worklog_changes(WorklogChangeKind::Deleted, 0)
        .await
        .unwrap();
    assert!(deleted.last_page);
}

#[tokio::test]
async fn csm_lists_and_profiles_through_the_gateway_companions() {
    let sim = sim().await;
    let csm = client(&sim, ApiType::CustomerServiceManagement);
    same_in_small_pages(&csm, RecordList::CsmProducts, "id").await;
    same_in_small_pages(&csm, RecordList::CsmEntitlements, "id").await;

    let both = csm.with_base(csm.base().with_gateway_companions());
    let (customers, _) = read_all(
        &both,
        &RecordList::DeskCustomers {
            service_desk: "1".into(),
        },
        50,
    )
    .await;
    let ids: Vec<String> = customers
        .iter()
        .map(|c| c["accountId"].as_str().unwrap().to_owned())
        .collect();
    let profiles = both.csm_customer_profiles(&ids).await.unwrap();
    assert_eq!(profiles.len(), ids.len());
    let (orgs, _) = read_all(&both, &RecordList::Organizations, 50).await;
    let org_ids: Vec<String> = ids_of(&orgs);
    let profiles = both.csm_organization_profiles(&org_ids).await.unwrap();
    assert_eq!(profiles.len(), org_ids.len());
}

fn ids_of(records: &[Value]) -> Vec<String> {
    ids(records, "id")
}
