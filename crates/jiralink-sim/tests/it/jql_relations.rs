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

fn account_ids(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u["accountId"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Each issue's watchers and voters as their endpoints list them.
async fn watchers_and_voters(
    sim: &jiralink_sim::SimHandle,
    api: &Api,
    issues: &[Value],
) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let mut out = BTreeMap::new();
    for issue in issues {
        // Two reads per issue: let the quota refill rather than hit the rate limit.
        sim.control().advance(std::time::Duration::from_secs(2));
        let key = issue["key"].as_str().expect("key").to_owned();
        let watchers = api.get(&format!("/issue/{key}/watchers")).await;
        let watchers = account_ids(&expect(&watchers, StatusCode::OK)["watchers"]);
        let votes = api.get(&format!("/issue/{key}/votes")).await;
        let voters = account_ids(&expect(&votes, StatusCode::OK)["voters"]);
        out.insert(key, (watchers, voters));
    }
    out
}

async fn group_members(api: &Api, group: &str) -> Vec<String> {
    let reply = api
        .get(&format!(
            "/group/member?groupname={group}&maxResults=50&includeInactiveUsers=true"
        ))
        .await;
    let body = expect(&reply, StatusCode::OK);
    assert_eq!(body["isLast"], true);
    account_ids(&body["values"])
}

#[tokio::test]
async fn watchers_voters_and_group_members() {
    let sim = start().await;
    let api = utc_member(&sim);
    let issues = all_issues(&api).await;
    let people = watchers_and_voters(&sim, &api, &issues).await;
    let key_of = |f: &Value| -> String {
        issues
            .iter()
            .find(|i| {
                i["fields"]["summary"] == f["summary"] && i["fields"]["created"] == f["created"]
            })
            .and_then(|i| i["key"].as_str())
            .expect("issue")
            .to_owned()
    };
    let watchers = |f: &Value| people[&key_of(f)].0.clone();
    let voters = |f: &Value| people[&key_of(f)].1.clone();
    let someone = people
        .values()
        .find_map(|(w, _)| w.first().cloned())
        .expect("a watcher");
    let voter = people
        .values()
        .find_map(|(_, v)| v.first().cloned())
        .expect("a voter");
    check(&api, &issues, &format!("watcher = {someone}"), |f| {
        watchers(f).contains(&someone)
    })
    .await;
    check(&api, &issues, &format!("watcher != {someone}"), |f| {
        let w = watchers(f);
        !w.is_empty() && !w.contains(&someone)
    })
    .await;
    check(&api, &issues, "watcher IS EMPTY", |f| {
        watchers(f).is_empty()
    })
    .await;
    check(
        &api,
        &issues,
        &format!("voter in ({voter}, {someone})"),
        |f| {
            let v = voters(f);
            v.contains(&voter) || v.contains(&someone)
        },
    )
    .await;
    check(&api, &issues, "voter IS NOT EMPTY", |f| {
        !voters(f).is_empty()
    })
    .await;
    check(&api, &issues, "watchers > 1", |f| watchers(f).len() > 1).await;
    check(&api, &issues, "watchers = 1", |f| watchers(f).len() == 1).await;
    check(&api, &issues, "votes >= 1", |f| !voters(f).is_empty()).await;
    check(&api, &issues, "votes < 1", |f| voters(f).is_empty()).await;

    // Watching an issue is searchable at once with currentUser().
    let me = {
        let reply = api.get("/myself").await;
        expect(&reply, StatusCode::OK)["accountId"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let reply = api
        .post("/issue/DEMO-3/watchers", &Value::String(me.clone()))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
    let found = crate::jql_fields::keys(
        &api,
        &format!("{} AND watcher = currentUser()", "project = DEMO"),
    )
    .await;
    assert!(found.contains("DEMO-3"), "{found:?}");

    for group in ["team-mobile", "jira-software-users"] {
        sim.control().advance(std::time::Duration::from_secs(60));
        let members = group_members(&api, group).await;
        assert!(!members.is_empty(), "{group}");
        let has = |v: &Value| {
            v["accountId"]
                .as_str()
                .is_some_and(|a| members.iter().any(|m| m == a))
        };
        check(
            &api,
            &issues,
            &format!("assignee in membersOf(\"{group}\")"),
            |f| has(&f["assignee"]),
        )
        .await;
        check(
            &api,
            &issues,
            &format!("reporter not in membersOf({group})"),
            |f| !f["reporter"].is_null() && !has(&f["reporter"]),
        )
        .await;
        check(
            &api,
            &issues,
            &format!("creator in membersOf({group})"),
            |f| has(&f["creator"]),
        )
        .await;
        check(
            &api,
            &issues,
            &format!("watcher in membersOf({group})"),
            |f| watchers(f).iter().any(|w| members.contains(w)),
        )
        .await;
    }
    assert_eq!(
        crate::jql_fields::errors(&api, "assignee in membersOf(nobody-here) OR voter in membersOf()").await,
        vec![
            "Function 'membersOf' can not generate a list of usernames for group 'nobody-here'; the group does not exist.".to_owned(),
            "Function 'membersOf' expected '1' arguments but received '0'.".to_owned(),
        ]
    );
}

#[tokio::test]
async fn sprints_and_links() {
    let sim = start().await;
    let api = utc_member(&sim);
    let issues = all_issues(&api).await;
    let sprints = |f: &Value| -> Vec<(u64, String, String)> {
        f["customfield_10020"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| {
                        (
                            s["id"].as_u64().expect("id"),
                            s["name"].as_str().expect("name").to_owned(),
                            s["state"].as_str().expect("state").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (id, name, _) = issues
        .iter()
        .find_map(|i| sprints(&i["fields"]).into_iter().next())
        .expect("an issue in a sprint");
    check(&api, &issues, &format!("sprint = {id}"), |f| {
        sprints(f).iter().any(|s| s.0 == id)
    })
    .await;
    check(&api, &issues, &format!("sprint = \"{name}\""), |f| {
        sprints(f).iter().any(|s| s.1 == name)
    })
    .await;
    check(&api, &issues, "sprint IS EMPTY", |f| sprints(f).is_empty()).await;
    for (function, state) in [
        ("openSprints", "active"),
        ("closedSprints", "closed"),
        ("futureSprints", "future"),
    ] {
        check(&api, &issues, &format!("sprint in {function}()"), |f| {
            sprints(f).iter().any(|s| s.2 == state)
        })
        .await;
    }
    check(&api, &issues, "sprint not in closedSprints()", |f| {
        let s = sprints(f);
        !s.is_empty() && s.iter().all(|s| s.2 != "closed")
    })
    .await;
    assert_eq!(
        crate::jql_fields::errors(
            &api,
            "sprint = 987654 OR sprint = \"No Such Sprint\" OR sprint in membersOf(x)"
        )
        .await,
        vec![
            "The value '987654' does not exist for the field 'sprint'.".to_owned(),
            "The value 'No Such Sprint' does not exist for the field 'sprint'.".to_owned(),
            "The function 'membersOf' is not supported by the field 'sprint'.".to_owned(),
        ]
    );

    // Links: the issues' issuelinks field is the reference.
    let links = |f: &Value| -> Vec<(String, String, String)> {
        f["issuelinks"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|l| {
                        if l["outwardIssue"].is_object() {
                            (
                                l["type"]["outward"].as_str().unwrap_or("").to_owned(),
                                l["type"]["name"].as_str().unwrap_or("").to_owned(),
                                l["outwardIssue"]["key"].as_str().unwrap_or("").to_owned(),
                            )
                        } else {
                            (
                                l["type"]["inward"].as_str().unwrap_or("").to_owned(),
                                l["type"]["name"].as_str().unwrap_or("").to_owned(),
                                l["inwardIssue"]["key"].as_str().unwrap_or("").to_owned(),
                            )
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (description, _, _) = issues
        .iter()
        .find_map(|i| links(&i["fields"]).into_iter().next())
        .expect("a linked issue");
    check(
        &api,
        &issues,
        &format!("issueLinkType = \"{description}\""),
        |f| links(f).iter().any(|l| l.0 == description),
    )
    .await;
    check(
        &api,
        &issues,
        "issueLinkType in (blocks, \"is blocked by\")",
        |f| {
            links(f)
                .iter()
                .any(|l| l.0 == "blocks" || l.0 == "is blocked by")
        },
    )
    .await;
    let linked = issues
        .iter()
        .find(|i| !links(&i["fields"]).is_empty())
        .expect("a linked issue");
    let key = linked["key"].as_str().expect("key").to_owned();
    let own = links(&linked["fields"]);
    let want: std::collections::BTreeSet<String> = own.iter().map(|l| l.2.clone()).collect();
    assert_eq!(
        crate::jql_fields::keys(&api, &format!("issue in linkedIssues(\"{key}\")")).await,
        want
    );
    let first = own[0].0.clone();
    let want: std::collections::BTreeSet<String> = own
        .iter()
        .filter(|l| l.0 == first)
        .map(|l| l.2.clone())
        .collect();
    assert_eq!(
        crate::jql_fields::keys(&api, &format!("issue in linkedIssues({key}, \"{first}\")")).await,
        want
    );
    assert_eq!(
        crate::jql_fields::errors(&api, "issue in linkedIssues(NOPE-1) OR issue in linkedIssues(DEMO-1, \"eats\") OR issueLinkType = eats").await,
        vec![
            "Issue 'NOPE-1' could not be found in function 'linkedIssues'.".to_owned(),
            "Issue link type 'eats' could not be found in function 'linkedIssues'.".to_owned(),
            "The value 'eats' does not exist for the field 'issueLinkType'.".to_owned(),
        ]
    );
}
