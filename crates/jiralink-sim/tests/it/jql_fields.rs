//! JQL over priority, resolution, status category, components, versions, parent, due and
//! resolution dates, creator, text fields and number/multi-valued custom fields: each query's
//! hits are checked against the issues' own fields as a read returns them, so the lazy search
//! view of generated issues and the full issue agree.

use std::collections::BTreeSet;

use jiralink_sim::SimHandle;
use jiralink_sim::control::{NewApiToken, NewUser, TokenKindInput};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::platform::{Api, expect};
use crate::{basic, start};

const ALL: &str = "project in (DEMO, MOB, MKT, HELP)";

/// A member of `demo` in UTC, so date literals are UTC instants.
pub(crate) fn utc_member(sim: &SimHandle) -> Api {
    let email = "utc@example.com";
    sim.control()
        .add_user(NewUser {
            email: email.to_owned(),
            display_name: "Uma UTC".to_owned(),
            time_zone: Some("Etc/UTC".to_owned()),
            sites: vec!["demo".to_owned()],
            active: None,
        })
        .expect("user");
    let token = sim
        .control()
        .add_api_token(NewApiToken {
            email: email.to_owned(),
            kind: TokenKindInput::Classic,
            scopes: Vec::new(),
            expires_in_secs: None,
            label: None,
        })
        .expect("token")
        .token;
    Api {
        base: format!("{}/rest/api/3", sim.site_url("demo")),
        auth: basic(email, &token),
    }
}

pub(crate) async fn all_issues(api: &Api) -> Vec<Value> {
    let reply = api
        .post(
            "/search/jql",
            &json!({"jql": format!("{ALL} ORDER BY key"), "fields": ["*all"], "maxResults": 100}),
        )
        .await;
    let issues = expect(&reply, StatusCode::OK)["issues"]
        .as_array()
        .expect("issues")
        .clone();
    assert!(issues.len() > 50 && issues.len() < 100, "{}", issues.len());
    issues
}

pub(crate) async fn keys(api: &Api, jql: &str) -> BTreeSet<String> {
    let reply = api
        .post(
            "/search/jql",
            &json!({"jql": jql, "fields": ["key"], "maxResults": 100}),
        )
        .await;
    expect(&reply, StatusCode::OK)["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| i["key"].as_str().expect("key").to_owned())
        .collect()
}

pub(crate) async fn errors(api: &Api, jql: &str) -> Vec<String> {
    let reply = api
        .post("/search/jql", &json!({"jql": jql, "maxResults": 1}))
        .await;
    expect(&reply, StatusCode::BAD_REQUEST)["errorMessages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m.as_str().expect("text").to_owned())
        .collect()
}

fn expected(issues: &[Value], keep: impl Fn(&Value) -> bool) -> BTreeSet<String> {
    issues
        .iter()
        .filter(|i| keep(&i["fields"]))
        .map(|i| i["key"].as_str().expect("key").to_owned())
        .collect()
}

/// Checks `jql` (restricted to the test projects) against `keep`, and that it is selective.
pub(crate) async fn check(api: &Api, issues: &[Value], jql: &str, keep: impl Fn(&Value) -> bool) {
    let want = expected(issues, keep);
    let got = keys(api, &format!("{ALL} AND ({jql})")).await;
    assert_eq!(got, want, "{jql}");
}

fn name(v: &Value) -> &str {
    v["name"].as_str().unwrap_or("")
}

pub(crate) fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn instant(text: &str) -> i64 {
    jiff::Timestamp::strptime("%Y-%m-%dT%H:%M:%S%.f%z", text)
        .expect("jira date-time")
        .as_millisecond()
}

#[tokio::test]
async fn priority_resolution_and_status_category() {
    let sim = start().await;
    let api = utc_member(&sim);
    let issues = all_issues(&api).await;
    let priority = |f: &Value| name(&f["priority"]).to_owned();
    let rank = |p: &str| {
        ["Highest", "High", "Medium", "Low", "Lowest"]
            .iter()
            .position(|x| *x == p)
            .expect("known priority")
    };
    check(&api, &issues, "priority = High", |f| priority(f) == "High").await;
    check(&api, &issues, "priority in (Highest, 4)", |f| {
        matches!(priority(f).as_str(), "Highest" | "Low")
    })
    .await;
    check(&api, &issues, "priority != medium", |f| {
        priority(f) != "Medium"
    })
    .await;
    check(&api, &issues, "priority > Medium", |f| {
        rank(&priority(f)) < 2
    })
    .await;
    check(&api, &issues, "priority <= Low", |f| {
        rank(&priority(f)) >= 3
    })
    .await;
    check(&api, &issues, "NOT priority >= High", |f| {
        rank(&priority(f)) > 1
    })
    .await;

    let resolution = |f: &Value| f["resolution"]["name"].as_str().map(str::to_owned);
    check(&api, &issues, "resolution = Done", |f| {
        resolution(f).as_deref() == Some("Done")
    })
    .await;
    check(&api, &issues, "resolution = Unresolved", |f| {
        resolution(f).is_none()
    })
    .await;
    check(&api, &issues, "resolution IS EMPTY", |f| {
        resolution(f).is_none()
    })
    .await;
    check(&api, &issues, "resolution != Unresolved", |f| {
        resolution(f).is_some()
    })
    .await;
    check(&api, &issues, "resolution not in (Done, Unresolved)", |f| {
        resolution(f).is_some_and(|r| r != "Done")
    })
    .await;
    assert!(
        issues.iter().any(|i| resolution(&i["fields"]).is_some())
            && issues.iter().any(|i| resolution(&i["fields"]).is_none())
    );

    let category = |f: &Value| {
        f["status"]["statusCategory"]["key"]
            .as_str()
            .map(str::to_owned)
    };
    check(&api, &issues, "statusCategory = Done", |f| {
        category(f).as_deref() == Some("done")
    })
    .await;
    check(
        &api,
        &issues,
        "statusCategory in (\"To Do\", indeterminate)",
        |f| category(f).as_deref() != Some("done"),
    )
    .await;
    check(&api, &issues, "statuscategory != 2", |f| {
        category(f).as_deref() != Some("new")
    })
    .await;

    // Sorting: highest priority first when descending.
    let reply = api
        .post(
            "/search/jql",
            &json!({"jql": format!("{ALL} ORDER BY priority DESC, key"), "fields": ["priority"], "maxResults": 100}),
        )
        .await;
    let ranks: Vec<usize> = expect(&reply, StatusCode::OK)["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| rank(name(&i["fields"]["priority"])))
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");

    assert_eq!(
        errors(&api, "priority = Urgent AND resolution = Fixed").await,
        vec![
            "The value 'Urgent' does not exist for the field 'priority'.".to_owned(),
            "The value 'Fixed' does not exist for the field 'resolution'.".to_owned(),
        ]
    );
    assert_eq!(
        errors(&api, "statusCategory > Done").await,
        vec!["The operator '>' is not supported by the 'statusCategory' field.".to_owned()]
    );
}

#[tokio::test]
async fn components_versions_and_parent() {
    let sim = start().await;
    let api = utc_member(&sim);
    let issues = all_issues(&api).await;
    let component = issues
        .iter()
        .find_map(|i| i["fields"]["components"][0]["name"].as_str())
        .expect("an issue with a component")
        .to_owned();
    let has_component = |f: &Value, n: &str| {
        f["components"].as_array().is_some_and(|a| {
            a.iter().any(|c| {
                c["name"]
                    .as_str()
                    .is_some_and(|x| x.eq_ignore_ascii_case(n))
            })
        })
    };
    check(
        &api,
        &issues,
        &format!("component = \"{component}\""),
        |f| has_component(f, &component),
    )
    .await;
    check(&api, &issues, "component IS EMPTY", |f| {
        ids(&f["components"]).is_empty()
    })
    .await;
    check(
        &api,
        &issues,
        &format!("component != \"{component}\""),
        |f| !ids(&f["components"]).is_empty() && !has_component(f, &component),
    )
    .await;

    let version = issues
        .iter()
        .find_map(|i| i["fields"]["fixVersions"][0]["name"].as_str())
        .expect("an issue with a fix version")
        .to_owned();
    let has_version = |list: &Value, n: &str| {
        list.as_array()
            .is_some_and(|a| a.iter().any(|v| v["name"] == n))
    };
    check(&api, &issues, &format!("fixVersion = \"{version}\""), |f| {
        has_version(&f["fixVersions"], &version)
    })
    .await;
    check(&api, &issues, "fixVersion in releasedVersions()", |f| {
        f["fixVersions"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v["released"] == true))
    })
    .await;
    check(
        &api,
        &issues,
        "fixVersion in unreleasedVersions(DEMO)",
        |f| {
            f["project"]["key"] == "DEMO"
                && f["fixVersions"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|v| v["released"] == false))
        },
    )
    .await;
    let project = expect(&api.get("/project/DEMO").await, StatusCode::OK).clone();
    let earliest = project["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .find(|v| v["released"] == false)
        .map(|v| v["id"].as_str().expect("id").to_owned())
        .expect("an unreleased version");
    check(
        &api,
        &issues,
        "fixVersion = earliestUnreleasedVersion(DEMO)",
        |f| ids(&f["fixVersions"]).contains(&earliest),
    )
    .await;

    let demo_versions: Vec<String> = project["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v["id"].as_str().expect("id").to_owned())
        .collect();
    let first = project["versions"][0]["name"]
        .as_str()
        .expect("name")
        .to_owned();
    check(
        &api,
        &issues,
        &format!("fixVersion > \"{first}\" AND project = DEMO"),
        |f| {
            f["project"]["key"] == "DEMO"
                && ids(&f["fixVersions"])
                    .iter()
                    .any(|id| demo_versions[1..].contains(id))
        },
    )
    .await;
    check(
        &api,
        &issues,
        &format!("NOT fixVersion > \"{first}\" AND project = DEMO"),
        |f| {
            f["project"]["key"] == "DEMO"
                && ids(&f["fixVersions"])
                    .iter()
                    .any(|id| *id == demo_versions[0])
        },
    )
    .await;

    let affected = issues
        .iter()
        .find_map(|i| i["fields"]["versions"][0]["name"].as_str())
        .expect("an issue with an affected version")
        .to_owned();
    check(&api, &issues, "affectedVersion IS NOT EMPTY", |f| {
        !ids(&f["versions"]).is_empty()
    })
    .await;
    check(
        &api,
        &issues,
        &format!("affectedVersion = \"{affected}\""),
        |f| has_version(&f["versions"], &affected),
    )
    .await;

    let parent = issues
        .iter()
        .find_map(|i| i["fields"]["parent"]["key"].as_str())
        .expect("an issue with a parent")
        .to_owned();
    check(&api, &issues, &format!("parent = {parent}"), |f| {
        f["parent"]["key"] == parent.as_str()
    })
    .await;
    let parent_id = issues
        .iter()
        .find(|i| i["key"] == parent.as_str())
        .and_then(|i| i["id"].as_str())
        .expect("parent id")
        .to_owned();
    check(&api, &issues, &format!("parent in ({parent_id})"), |f| {
        f["parent"]["key"] == parent.as_str()
    })
    .await;

    // Edits are searched at once (with reconciliation) and land in the history.
    let target = issues
        .iter()
        .find(|i| {
            i["fields"]["project"]["key"] == "DEMO" && ids(&i["fields"]["versions"]).is_empty()
        })
        .and_then(|i| i["key"].as_str())
        .expect("a DEMO issue without affected versions")
        .to_owned();
    let edit = api
        .send(
            reqwest::Method::PUT,
            &format!("/issue/{target}"),
            Some(&json!({"fields": {"versions": [{"name": affected}]}})),
        )
        .await;
    assert_eq!(edit.status, StatusCode::NO_CONTENT, "{:#}", edit.body);
    let read = api
        .get(&format!("/issue/{target}?fields=versions&expand=changelog"))
        .await;
    let read = expect(&read, StatusCode::OK);
    assert_eq!(read["fields"]["versions"][0]["name"], affected.as_str());
    let histories = read["changelog"]["histories"]
        .as_array()
        .expect("histories");
    assert!(
        histories
            .iter()
            .any(|h| h["items"][0]["fieldId"] == "versions")
    );
    let reply = api
        .post(
            "/search/jql",
            &json!({"jql": format!("affectedVersion = \"{affected}\" AND key = {target}"), "reconcileIssues": [read["id"].as_str().expect("id").parse::<u64>().expect("number")]}),
        )
        .await;
    assert_eq!(
        expect(&reply, StatusCode::OK)["issues"]
            .as_array()
            .expect("issues")
            .len(),
        1
    );
}

#[tokio::test]
async fn due_and_resolution_dates_creator_and_numbers() {
    let sim = start().await;
    let api = utc_member(&sim);
    let issues = all_issues(&api).await;
    let due = |f: &Value| f["duedate"].as_str().map(str::to_owned);
    let some_due = issues
        .iter()
        .find_map(|i| due(&i["fields"]))
        .expect("an issue with a due date");
    check(&api, &issues, &format!("duedate = \"{some_due}\""), |f| {
        due(f).as_deref() == Some(some_due.as_str())
    })
    .await;
    check(&api, &issues, &format!("due < \"{some_due}\""), |f| {
        due(f).is_some_and(|d| d < some_due)
    })
    .await;
    check(
        &api,
        &issues,
        &format!("duedate >= \"{some_due} 12:00\""),
        |f| due(f).is_some_and(|d| d > some_due),
    )
    .await;
    check(&api, &issues, "duedate IS EMPTY", |f| due(f).is_none()).await;
    // A due date is a day in every zone: Sydney finds the same issues.
    let sydney = Api::alice(&sim, "3");
    assert_eq!(
        keys(&sydney, &format!("{ALL} AND duedate = \"{some_due}\"")).await,
        expected(&issues, |f| due(f).as_deref() == Some(some_due.as_str()))
    );

    let resolved = |f: &Value| f["resolutiondate"].as_str().map(instant);
    let cut = "2025-12-01";
    let cut_ms = 1_764_547_200_000;
    check(
        &api,
        &issues,
        &format!("resolutiondate >= \"{cut}\""),
        |f| resolved(f).is_some_and(|ms| ms >= cut_ms),
    )
    .await;
    check(&api, &issues, &format!("resolved < \"{cut}\""), |f| {
        resolved(f).is_some_and(|ms| ms < cut_ms)
    })
    .await;
    check(&api, &issues, "resolved IS EMPTY", |f| {
        resolved(f).is_none()
    })
    .await;
    check(&api, &issues, "lastViewed IS EMPTY", |_| true).await;

    let creator = issues
        .iter()
        .find_map(|i| i["fields"]["creator"]["accountId"].as_str())
        .expect("a creator")
        .to_owned();
    check(&api, &issues, &format!("creator = \"{creator}\""), |f| {
        f["creator"]["accountId"] == creator.as_str()
    })
    .await;
    let alice = Api::alice(&sim, "3");
    let me = expect(&alice.get("/myself").await, StatusCode::OK)["accountId"]
        .as_str()
        .expect("id")
        .to_owned();
    let mine = expected(&issues, |f| f["reporter"]["accountId"] == me.as_str());
    assert_eq!(
        keys(&alice, &format!("{ALL} AND reporter = currentUser()")).await,
        mine
    );

    let fields = expect(&api.get("/field").await, StatusCode::OK).clone();
    let field_id = |n: &str| {
        fields
            .as_array()
            .expect("fields")
            .iter()
            .find(|f| f["name"] == n)
            .and_then(|f| f["id"].as_str())
            .expect("field")
            .to_owned()
    };
    let points = field_id("Story Points");
    let sp = |f: &Value| f[&points].as_f64();
    check(&api, &issues, "\"Story Points\" > 3", |f| {
        sp(f).is_some_and(|n| n > 3.0)
    })
    .await;
    check(&api, &issues, "\"Story Points\" <= 2", |f| {
        sp(f).is_some_and(|n| n <= 2.0)
    })
    .await;
    check(&api, &issues, "cf[10010] = 5", |f| sp(f) == Some(5.0)).await;
    check(&api, &issues, "\"Story Points\" IS EMPTY", |f| {
        sp(f).is_none()
    })
    .await;
    assert!(
        issues
            .iter()
            .any(|i| sp(&i["fields"]).is_some_and(|n| n > 3.0))
    );

    let reviewer = field_id("Reviewer");
    let reviewer_of = |f: &Value| f[&reviewer]["accountId"].as_str().map(str::to_owned);
    let some_reviewer = issues
        .iter()
        .find_map(|i| reviewer_of(&i["fields"]))
        .expect("an issue with a reviewer");
    check(
        &api,
        &issues,
        &format!("Reviewer = \"{some_reviewer}\""),
        |f| reviewer_of(f).as_deref() == Some(some_reviewer.as_str()),
    )
    .await;
    assert_eq!(
        keys(
            &alice,
            &format!("{ALL} AND Reviewer in (currentUser(), EMPTY)")
        )
        .await,
        expected(&issues, |f| reviewer_of(f).is_none_or(|r| r == me))
    );

    let target = field_id("Target Date");
    let some_target = issues
        .iter()
        .find_map(|i| i["fields"][&target].as_str())
        .expect("an issue with a target date")
        .to_owned();
    let target_of = |f: &Value| f[&target].as_str().map(str::to_owned);
    check(
        &api,
        &issues,
        &format!("\"Target Date\" < \"{some_target}\""),
        |f| target_of(f).is_some_and(|d| d < some_target),
    )
    .await;
    check(
        &api,
        &issues,
        &format!("\"Target Date\" = \"{some_target}\""),
        |f| target_of(f).as_deref() == Some(some_target.as_str()),
    )
    .await;

    let platforms = field_id("Platforms");
    let second = issues
        .iter()
        .find_map(|i| i["fields"][&platforms][1]["value"].as_str())
        .expect("an issue with two platforms")
        .to_owned();
    check(&api, &issues, &format!("Platforms = \"{second}\""), |f| {
        f[&platforms]
            .as_array()
            .is_some_and(|a| a.iter().any(|o| o["value"] == second.as_str()))
    })
    .await;
}

/// The words of an ADF document or a string.
fn words(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.extend(
            s.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase),
        ),
        Value::Object(map) => {
            if let Some(text) = map.get("text") {
                words(text, out);
            }
            if let Some(content) = map.get("content") {
                words(content, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| words(i, out)),
        _ => {}
    }
}

fn field_words(f: &Value, field: &str) -> Vec<String> {
    let mut out = Vec::new();
    match field {
        "comment" => {
            for c in f["comment"]["comments"].as_array().into_iter().flatten() {
                words(&c["body"], &mut out);
            }
        }
        other => words(&f[other], &mut out),
    }
    out
}

#[tokio::test]
async fn text_searches_match_words_and_prefixes() {
    let sim = start().await;
    let api = utc_member(&sim);
    let issues = all_issues(&api).await;
    for field in ["summary", "description", "environment", "comment"] {
        let word = issues
            .iter()
            .flat_map(|i| field_words(&i["fields"], field))
            .find(|w| w.len() >= 5 && w.chars().all(|c| c.is_ascii_alphabetic()))
            .unwrap_or_else(|| panic!("a word in {field}"));
        check(
            &api,
            &issues,
            &format!("{field} ~ \"{}\"", word.to_uppercase()),
            |f| field_words(f, field).contains(&word),
        )
        .await;
        check(
            &api,
            &issues,
            &format!("{field} ~ \"{word} -zzqxj\""),
            |f| field_words(f, field).contains(&word),
        )
        .await;
        check(&api, &issues, &format!("{field} ~ \"-{word}\""), |_| false).await;
        check(&api, &issues, &format!("{field} !~ \"{word}\""), |f| {
            let words = field_words(f, field);
            !words.is_empty() && !words.contains(&word)
        })
        .await;
        let prefix = &word[..4];
        check(&api, &issues, &format!("{field} ~ \"{prefix}*\""), |f| {
            field_words(f, field).iter().any(|w| w.starts_with(prefix))
        })
        .await;
        check(&api, &issues, &format!("text ~ \"{word}\""), |f| {
            ["summary", "description", "environment", "comment"]
                .iter()
                .any(|x| field_words(f, x).contains(&word))
                || f.as_object().is_some_and(|m| {
                    m.iter()
                        .filter(|(k, v)| {
                            k.starts_with("customfield_") && (v.is_string() || v.is_object())
                        })
                        .any(|(_, v)| {
                            let mut out = Vec::new();
                            words(v, &mut out);
                            out.contains(&word)
                        })
                })
        })
        .await;
    }
    check(&api, &issues, "description IS EMPTY", |f| {
        f["description"].is_null()
    })
    .await;
    check(&api, &issues, "environment IS NOT EMPTY", |f| {
        !f["environment"].is_null()
    })
    .await;
    assert_eq!(
        errors(&api, "project = DEMO ORDER BY comment").await,
        vec!["Field 'comment' does not support sorting.".to_owned()]
    );
    assert_eq!(
        errors(&api, "text = hello").await,
        vec!["The operator '=' is not supported by the 'text' field.".to_owned()]
    );
}

#[tokio::test]
async fn fields_from_other_data_stay_unsupported() {
    let sim = start().await;
    let api = utc_member(&sim);
    let messages = errors(&api, "worklogAuthor = currentUser() OR timeSpent > 1").await;
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].starts_with(
        "Field 'worklogAuthor' exists in Jira Cloud but the jiralink simulator does not support it in JQL yet."
    ));
    assert!(messages[1].starts_with("Field 'timeSpent' exists in Jira Cloud"));
    assert_eq!(
        errors(
            &api,
            "component in releasedVersions() AND fixVersion = nope AND parent = 12x"
        )
        .await,
        vec![
            "The function 'releasedVersions' is not supported by the field 'component'.".to_owned(),
            "The value 'nope' does not exist for the field 'fixVersion'.".to_owned(),
            "The issue key '12x' for field 'parent' is invalid.".to_owned(),
        ]
    );
}
