//! JQL over data that lives beside issues or changes under them: components and versions that
//! are created, released and deleted (with their issues moved) must be searched exactly as the
//! issues read back.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::jql_fields::{all_issues, check, ids, utc_member};
use crate::platform::{Api, expect};
use crate::start;

/// Checks `fixVersion`, `affectedVersion` and `component` by id for every part of DEMO, and
/// the versions' related-issue counts, against the issues as read.
async fn agree(api: &Api) {
    let issues = all_issues(api).await;
    let versions = api.get("/project/DEMO/versions").await;
    let versions = expect(&versions, StatusCode::OK).clone();
    let components = api.get("/project/DEMO/components").await;
    let components = expect(&components, StatusCode::OK).clone();
    let mut fixed: BTreeMap<String, u64> = BTreeMap::new();
    let mut affected: BTreeMap<String, u64> = BTreeMap::new();
    for issue in &issues {
        for v in ids(&issue["fields"]["fixVersions"]) {
            *fixed.entry(v).or_default() += 1;
        }
        for v in ids(&issue["fields"]["versions"]) {
            *affected.entry(v).or_default() += 1;
        }
    }
    for v in versions.as_array().expect("versions") {
        let id = v["id"].as_str().expect("id").to_owned();
        check(api, &issues, &format!("fixVersion = {id}"), |f| {
            ids(&f["fixVersions"]).contains(&id)
        })
        .await;
        check(api, &issues, &format!("affectedVersion = {id}"), |f| {
            ids(&f["versions"]).contains(&id)
        })
        .await;
        let counts = api.get(&format!("/version/{id}/relatedIssueCounts")).await;
        let counts = expect(&counts, StatusCode::OK);
        assert_eq!(
            counts["issuesFixedCount"],
            fixed.get(&id).copied().unwrap_or(0),
            "{id}"
        );
        assert_eq!(
            counts["issuesAffectedCount"],
            affected.get(&id).copied().unwrap_or(0),
            "{id}"
        );
    }
    for c in components.as_array().expect("components") {
        let id = c["id"].as_str().expect("id").to_owned();
        check(api, &issues, &format!("component = {id}"), |f| {
            ids(&f["components"]).contains(&id)
        })
        .await;
    }
    check(api, &issues, "affectedVersion IS EMPTY", |f| {
        ids(&f["versions"]).is_empty()
    })
    .await;
    check(api, &issues, "fixVersion IS EMPTY", |f| {
        ids(&f["fixVersions"]).is_empty()
    })
    .await;
}

/// The DEMO part (`versions` or `components`) with the most issues in `field`.
fn busiest(issues: &[Value], field: &str) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for issue in issues {
        if issue["fields"]["project"]["key"] == "DEMO" {
            for id in ids(&issue["fields"][field]) {
                *counts.entry(id).or_default() += 1;
            }
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(id, _)| id)
        .expect("a used part")
}

#[tokio::test]
async fn search_follows_version_and_component_writes() {
    let sim = start().await;
    let api = utc_member(&sim);
    agree(&api).await;
    let project_id = {
        let reply = api.get("/project/DEMO").await;
        expect(&reply, StatusCode::OK)["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };

    // A new released version must not reshuffle the generated issues' affected versions.
    let before = all_issues(&api).await;
    let created = api
        .post(
            "/version",
            &json!({"projectId": project_id, "name": "9.9 hotfix", "released": true}),
        )
        .await;
    let new_version = expect(&created, StatusCode::CREATED)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let after = all_issues(&api).await;
    for (a, b) in before.iter().zip(&after) {
        assert_eq!(
            a["fields"]["versions"], b["fields"]["versions"],
            "{}",
            a["key"]
        );
        assert_eq!(
            a["fields"]["fixVersions"], b["fields"]["fixVersions"],
            "{}",
            a["key"]
        );
    }
    agree(&api).await;

    // Deleting the busiest fix version and affected version moves their issues.
    let fix = busiest(&after, "fixVersions");
    let reply = api
        .delete(&format!(
            "/version/{fix}?moveFixIssuesTo={new_version}&moveAffectedIssuesTo={new_version}"
        ))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
    agree(&api).await;
    let issues = all_issues(&api).await;
    check(&api, &issues, "fixVersion = \"9.9 hotfix\"", |f| {
        ids(&f["fixVersions"]).contains(&new_version)
    })
    .await;
    let affected = busiest(&issues, "versions");
    if affected != new_version {
        let reply = api.delete(&format!("/version/{affected}")).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
        agree(&api).await;
    }

    // Components: create one, delete the busiest into it.
    let created = api
        .post(
            "/component",
            &json!({"project": "DEMO", "name": "Relocated"}),
        )
        .await;
    let component = expect(&created, StatusCode::CREATED)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let busy = busiest(&all_issues(&api).await, "components");
    let reply = api
        .delete(&format!("/component/{busy}?moveIssuesTo={component}"))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
    agree(&api).await;
    let issues = all_issues(&api).await;
    assert!(
        issues
            .iter()
            .any(|i| ids(&i["fields"]["components"]).contains(&component))
    );
}
