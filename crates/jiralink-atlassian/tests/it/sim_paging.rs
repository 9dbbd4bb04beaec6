//! Paging against the simulator's search, JSM and CSM endpoints: small pages return exactly the
//! records one large page does, each once.

use std::collections::BTreeSet;

use futures::TryStreamExt as _;
use jiralink_atlassian::{JiraClient, SearchRequest};
use jiralink_domain::ApiType;
use pretty_assertions::assert_eq;

use crate::{sim, sim_client as client};

async fn keys(client: &JiraClient, page: u32) -> Vec<String> {
    client
        .search_jql(SearchRequest {
            jql: "project = DEMO ORDER BY key".into(),
            max_results: Some(page),
            ..SearchRequest::default()
        })
        .map_ok(|issue| issue.id)
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn search_jql_pages_return_every_issue_once() {
    let sim = sim().await;
    let client = client(&sim, ApiType::CloudPlatform);
    let whole = keys(&client, 100).await;
    sim.control().clear_requests();
    let paged = keys(&client, 7).await;
    let searches = sim.control().requests().len();
    assert!(whole.len() > 7, "the project spans several pages");
    assert!(searches > 1, "{searches} requests");
    assert_eq!(paged, whole);
    let unique: BTreeSet<_> = paged.iter().collect();
    assert_eq!(unique.len(), paged.len(), "no issue twice");
}

#[tokio::test]
async fn jsm_and_csm_lists_have_no_duplicates() {
    let sim = sim().await;
    let desks: Vec<_> = client(&sim, ApiType::CloudPlatform)
        .service_desks()
        .map_ok(|d| d.id)
        .try_collect()
        .await
        .unwrap();
    assert!(!desks.is_empty());
    assert_eq!(desks.iter().collect::<BTreeSet<_>>().len(), desks.len());

    let products: Vec<_> = client(&sim, ApiType::CustomerServiceManagement)
        .csm_products()
        .map_ok(|p| p.id)
        .try_collect()
        .await
        .unwrap();
    assert!(!products.is_empty(), "the simulator seeds products");
    assert_eq!(
        products.iter().collect::<BTreeSet<_>>().len(),
        products.len()
    );
}
