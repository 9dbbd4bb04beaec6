//! Every resource but issues against the simulator: each exports all its records once (counted
//! against the simulator's own answers), test exports stop at their limit, per-issue resources
//! follow the JQL, deltas write only what changed (deleted worklogs included), ADF becomes text
//! or Markdown, and a run killed after any checkpoint resumes without losing or doubling a
//! record.

use std::collections::BTreeSet;

use jiralink_atlassian::{ApiBase, AuthRoute, JiraClient, PageAt, RecordList};
use jiralink_domain::{ApiType, AtlassianEndpoints};
use jiralink_sim::SimConfig;
use jiralink_sync::{AdfMode, ExportKind, ExportSpec, Format, Resource, run_export};
use pretty_assertions::assert_eq;
use reqwest::Method;
use serde_json::{Value, json};
use url::Url;

use crate::{Env, MemJournal, lines};

/// A client of the `demo` site that also reaches its Customer Service Management API through
/// the gateway (the simulator takes the site's Basic credentials there).
fn site_and_csm_client(env: &Env) -> JiraClient {
    let sim = &env.sim;
    let endpoints = AtlassianEndpoints {
        site_url_template: sim.site_url_template(),
        api_gateway: Url::parse(&sim.api_gateway()).unwrap(),
        auth_server: Url::parse(&sim.auth_server()).unwrap(),
    };
    let cloud_id = env.control().site("demo").unwrap().cloud_id.to_string();
    let csm = ApiBase::resolve(
        &endpoints,
        ApiType::CustomerServiceManagement,
        AuthRoute::BasicClassic,
        None,
        Some(&cloud_id),
    )
    .unwrap();
    let mut base = env.client.base().clone();
    base.csm = csm.csm;
    base.cloud_id = Some(cloud_id);
    env.client.with_base(base)
}

fn spec(resource: Resource) -> ExportSpec {
    ExportSpec::new(resource)
}

/// Runs `spec` with `client` to the end; the output with its tail.
async fn export_with(
    env: &Env,
    client: &JiraClient,
    spec: &ExportSpec,
) -> (Vec<u8>, jiralink_sync::ExportOutcome) {
    let journal = MemJournal::default();
    let outcome = run_export(jiralink_sync::ExportJob {
        client,
        spec,
        cursor: None,
        known_ids: None,
        resume: None,
        clock: std::sync::Arc::new(env.clock.clone()),
        concurrency: 4,
        journal: &journal,
        progress: &jiralink_sync::NoProgress,
    })
    .await
    .unwrap_or_else(|e| panic!("{} export: {e}", spec.resource));
    let mut out = journal.output();
    out.extend_from_slice(&outcome.tail);
    (out, outcome)
}

/// Every record of `list` read straight from the client in one large page at a time.
async fn direct(client: &JiraClient, list: RecordList) -> Vec<Value> {
    let mut at: Option<PageAt> = None;
    let mut out = Vec::new();
    loop {
        let page = client
            .record_page(&list, at.as_ref(), list.max_page())
            .await
            .unwrap();
        out.extend(
            page.records
                .iter()
                .map(|r| serde_json::from_str::<Value>(r.get()).unwrap()),
        );
        match page.next {
            Some(n) => at = Some(n),
            None => return out,
        }
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn every_list_resource_exports_each_record_once() {
    let env = Env::start(SimConfig::for_tests()).await;
    let client = site_and_csm_client(&env);
    // The simulator's own totals, asked independently of the client's paging.
    let (_, projects) = env
        .http(Method::GET, "/project/search?maxResults=1", None)
        .await;
    let (_, users) = env
        .http(Method::GET, "/users/search?maxResults=1000", None)
        .await;
    let (_, fields) = env.http(Method::GET, "/field", None).await;
    let (_, statuses) = env.http(Method::GET, "/status", None).await;
    let (_, types) = env.http(Method::GET, "/issuetype", None).await;
    let (_, priorities) = env
        .http(Method::GET, "/priority/search?maxResults=1", None)
        .await;
    let (_, resolutions) = env
        .http(Method::GET, "/resolution/search?maxResults=1", None)
        .await;
    let total = |v: &Value| v["total"].as_u64().unwrap() as usize;
    let len = |v: &Value| v.as_array().unwrap().len();
    let desks = direct(&client, RecordList::ServiceDesks).await;
    let products = direct(&client, RecordList::CsmProducts).await;
    let entitlements = direct(&client, RecordList::CsmEntitlements).await;
    let requests = direct(&client, RecordList::CustomerRequests { service_desk: None }).await;
    let organizations = direct(&client, RecordList::Organizations).await;
    let mut request_types = 0;
    let mut desk_customers = 0;
    let mut customers = BTreeSet::new();
    for desk in &desks {
        let id = text_of(&desk["id"]);
        request_types += direct(
            &client,
            RecordList::RequestTypes {
                service_desk: id.clone(),
            },
        )
        .await
        .len();
        let people = direct(&client, RecordList::DeskCustomers { service_desk: id }).await;
        desk_customers += people.len();
        customers.extend(people.iter().map(|p| text_of(&p["accountId"])));
    }
    let expected = [
        (Resource::Projects, total(&projects), "id"),
        (Resource::Users, len(&users), "accountId"),
        (Resource::Fields, len(&fields), "id"),
        (Resource::Statuses, len(&statuses), "id"),
        (Resource::IssueTypes, len(&types), "id"),
        (Resource::Priorities, total(&priorities), "id"),
        (Resource::Resolutions, total(&resolutions), "id"),
        (Resource::ServiceDesks, desks.len(), "id"),
        (Resource::RequestTypes, request_types, "id"),
        (Resource::CustomerRequests, requests.len(), "issueId"),
        (Resource::JsmCustomers, desk_customers, "accountId"),
        (Resource::JsmOrganizations, organizations.len(), "id"),
        (Resource::CsmCustomers, customers.len(), ""),
        (Resource::CsmOrganizations, organizations.len(), ""),
        (Resource::CsmProducts, products.len(), "id"),
        (Resource::CsmEntitlements, entitlements.len(), "id"),
    ];
    for (resource, count, key) in expected {
        assert!(count > 0, "the simulator seeds {resource}");
        let (out, outcome) = export_with(&env, &client, &spec(resource)).await;
        let records = lines(&out);
        assert_eq!(records.len(), count, "{resource}");
        assert_eq!(
            outcome.stats.records.get(resource.as_str()).copied(),
            Some(count as u64),
            "{resource} stats"
        );
        if !key.is_empty() {
            let keys: Vec<String> = records
                .iter()
                .map(|r| {
                    let mut k = text_of(&r[key]);
                    if resource == Resource::JsmCustomers {
                        k.push_str(&text_of(&r["serviceDeskId"]));
                    }
                    k
                })
                .collect();
            let unique: BTreeSet<_> = keys.iter().collect();
            assert_eq!(unique.len(), keys.len(), "{resource}: no record twice");
        }
    }
    // CSM profiles: one per customer, each with its account.
    let (out, _) = export_with(&env, &client, &spec(Resource::CsmCustomers)).await;
    let ids: BTreeSet<String> = lines(&out)
        .iter()
        .map(|p| text_of(&p["account"]["id"]))
        .collect();
    assert_eq!(ids, customers);
}

#[tokio::test]
async fn one_service_desk_by_id_or_project_key() {
    let env = Env::start(SimConfig::for_tests()).await;
    let mut s = spec(Resource::RequestTypes);
    s.service_desk = Some("help".into());
    let (out, _) = export_with(&env, &env.client, &s).await;
    let records = lines(&out);
    assert!(records.len() >= 4, "the seeded request types of HELP");
    assert!(records.iter().all(|r| text_of(&r["serviceDeskId"]) == "1"));
    let mut s = spec(Resource::JsmOrganizations);
    s.service_desk = Some("1".into());
    let (out, _) = export_with(&env, &env.client, &s).await;
    assert_eq!(lines(&out).len(), 3, "organizations 1-3 are on desk 1");
    s.service_desk = Some("NOPE".into());
    let journal = MemJournal::default();
    let err = env
        .run(&s, None, None, None, 1, &journal)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_spec");
    assert!(err.to_string().contains("HELP (1)"), "{err}");
}

#[tokio::test]
async fn test_exports_stop_at_their_limit() {
    let env = Env::start(SimConfig::for_tests()).await;
    for resource in [Resource::Users, Resource::Comments, Resource::Fields] {
        let mut s = spec(resource);
        s.kind = ExportKind::Test { limit: 3 };
        if resource.needs_jql() {
            s.jql = Some("project = DEMO".into());
        }
        let (out, outcome) = export_with(&env, &env.client, &s).await;
        assert_eq!(lines(&out).len(), 3, "{resource}");
        assert_eq!(outcome.stats.total_records(), 3);
    }
}

#[tokio::test]
async fn comments_worklogs_and_changelogs_of_the_jql_issues() {
    let env = Env::start(SimConfig::for_tests()).await;
    let jql = "project = DEMO";
    let issues = crate::all_ids(&env.client, jql).await;
    assert!(!issues.is_empty());
    for resource in [Resource::Comments, Resource::Worklogs, Resource::Changelogs] {
        // Each issue's list read whole, one issue at a time (the client waits out the
        // simulator's rate limit).
        let mut expected = 0;
        for id in &issues {
            let issue = id.clone();
            let list = match resource {
                Resource::Comments => RecordList::Comments { issue },
                Resource::Worklogs => RecordList::Worklogs { issue },
                _ => RecordList::IssueChangelog { issue },
            };
            expected += direct(&env.client, list).await.len();
        }
        assert!(expected > 0, "the simulator seeds {resource}");
        let mut s = spec(resource);
        s.jql = Some(jql.into());
        let (out, _) = export_with(&env, &env.client, &s).await;
        let records = lines(&out);
        assert_eq!(records.len(), expected, "{resource}");
        // Issues read concurrently still write their records in the search's order.
        let journal = MemJournal::default();
        let one = env.run(&s, None, None, None, 1, &journal).await.unwrap();
        let mut sequential = journal.output();
        sequential.extend_from_slice(&one.tail);
        assert_eq!(
            sequential, out,
            "{resource}: the same output with one request at a time"
        );
        let ids: BTreeSet<String> = records.iter().map(|r| text_of(&r["id"])).collect();
        assert_eq!(ids.len(), records.len(), "{resource}: no record twice");
        let issue_set: BTreeSet<&String> = issues.iter().collect();
        for r in &records {
            assert!(
                issue_set.contains(&text_of(&r["issueId"])),
                "{resource}: every record names its issue"
            );
        }
    }
}

#[tokio::test]
async fn adf_fields_become_text_or_markdown() {
    let env = Env::start(SimConfig::for_tests()).await;
    let issue = crate::all_ids(&env.client, "project = DEMO").await[0].clone();
    let body = json!({"type": "doc", "version": 1, "content": [
        {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Plan"}]},
        {"type": "paragraph", "content": [
            {"type": "text", "text": "ship "},
            {"type": "text", "text": "today", "marks": [{"type": "strong"}]}
        ]}
    ]});
    let (status, created) = env
        .http(
            Method::POST,
            &format!("/issue/{issue}/comment"),
            Some(json!({ "body": body })),
        )
        .await;
    assert_eq!(status, 201);
    let comment_id = text_of(&created["id"]);
    let jql = format!("id = {issue}");
    let mut s = spec(Resource::Comments);
    s.jql = Some(jql);
    let find = |out: &[u8]| {
        lines(out)
            .into_iter()
            .find(|c| text_of(&c["id"]) == comment_id)
            .unwrap()
    };
    let (raw, _) = export_with(&env, &env.client, &s).await;
    assert_eq!(find(&raw)["body"]["type"], "doc");
    s.adf = AdfMode::Text;
    let (text, _) = export_with(&env, &env.client, &s).await;
    assert_eq!(find(&text)["body"], "Plan\nship today");
    s.adf = AdfMode::Markdown;
    let (md, _) = export_with(&env, &env.client, &s).await;
    assert_eq!(find(&md)["body"], "## Plan\n\nship **today**");
}

#[tokio::test]
async fn a_comment_delta_writes_only_what_changed() {
    let env = Env::start(SimConfig::for_tests()).await;
    let mut s = spec(Resource::Comments);
    s.jql = Some("project = DEMO".into());
    s.kind = ExportKind::Delta { start: None };
    let (first, outcome) = export_with(&env, &env.client, &s).await;
    assert!(!lines(&first).is_empty());
    let cursor = outcome.cursor_after.expect("a delta leaves a cursor");

    env.advance(120);
    let issue = crate::all_ids(&env.client, "project = DEMO").await[1].clone();
    let body = json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "new"}]}
    ]});
    let (status, created) = env
        .http(
            Method::POST,
            &format!("/issue/{issue}/comment"),
            Some(json!({ "body": body })),
        )
        .await;
    assert_eq!(status, 201);
    env.advance(120);

    let journal = MemJournal::default();
    let outcome = env
        .run(&s, Some(&cursor), None, None, 2, &journal)
        .await
        .unwrap();
    let mut out = journal.output();
    out.extend_from_slice(&outcome.tail);
    let records = lines(&out);
    assert_eq!(
        records
            .iter()
            .map(|r| text_of(&r["id"]))
            .collect::<Vec<_>>(),
        vec![text_of(&created["id"])],
        "only the new comment"
    );
    assert!(outcome.cursor_after.unwrap().upper_ms > cursor.upper_ms);
}

#[tokio::test]
async fn a_worklog_delta_reports_changed_and_deleted_worklogs() {
    let env = Env::start(SimConfig::for_tests()).await;
    let mut s = spec(Resource::Worklogs);
    s.kind = ExportKind::Delta { start: None };
    let (first, outcome) = export_with(&env, &env.client, &s).await;
    let before = lines(&first);
    assert!(!before.is_empty(), "the seeded worklogs");
    let cursor = outcome.cursor_after.expect("a cursor");

    env.advance(120);
    let victim = &before[0];
    let issue = text_of(&victim["issueId"]);
    let (status, _) = env
        .http(
            Method::DELETE,
            &format!("/issue/{issue}/worklog/{}", text_of(&victim["id"])),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, added) = env
        .http(
            Method::POST,
            &format!("/issue/{issue}/worklog"),
            Some(json!({"timeSpentSeconds": 600, "started": "2026-01-05T09:00:00.000+0000"})),
        )
        .await;
    assert_eq!(status, 201, "{added}");
    env.advance(180);

    let journal = MemJournal::default();
    let outcome = env
        .run(&s, Some(&cursor), None, None, 1, &journal)
        .await
        .unwrap();
    let mut out = journal.output();
    out.extend_from_slice(&outcome.tail);
    let records = lines(&out);
    let changed: Vec<String> = records
        .iter()
        .filter(|r| r.get("deleted").is_none())
        .map(|r| text_of(&r["id"]))
        .collect();
    assert_eq!(changed, vec![text_of(&added["id"])]);
    let deleted: Vec<&Value> = records.iter().filter(|r| r["deleted"] == true).collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(text_of(&deleted[0]["worklogId"]), text_of(&victim["id"]));
    assert!(deleted[0]["updatedTime"].is_i64());
    assert_eq!(outcome.stats.records.get("deleted"), Some(&1));

    // With a JQL, changed worklogs of other issues are left out; deletions are all reported.
    let other = crate::all_ids(&env.client, &format!("id != {issue}")).await[0].clone();
    s.jql = Some(format!("id = {other}"));
    let journal = MemJournal::default();
    let outcome = env
        .run(&s, Some(&cursor), None, None, 1, &journal)
        .await
        .unwrap();
    let mut out = journal.output();
    out.extend_from_slice(&outcome.tail);
    let records = lines(&out);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["deleted"], true);
}

#[tokio::test]
async fn a_killed_run_resumes_after_each_checkpoint_without_loss_or_repeat() {
    let env = Env::start(SimConfig {
        size: jiralink_sim::DataSize::Medium,
        ..SimConfig::for_tests()
    })
    .await;
    for (resource, jql) in [
        (Resource::Changelogs, Some("project = MKT")),
        (Resource::Comments, Some("project = MKT")),
        (Resource::CsmCustomers, None),
    ] {
        let client = site_and_csm_client(&env);
        let mut s = spec(resource);
        s.jql = jql.map(str::to_owned);
        s.format = Format::JsonArray;
        let (whole, _) = export_with(&env, &client, &s).await;
        let whole: Value = serde_json::from_slice(&whole).unwrap();
        let mut kill_after = 1;
        loop {
            let first = MemJournal::with(|j| j.fail_after = Some(kill_after));
            let killed = run_export(jiralink_sync::ExportJob {
                client: &client,
                spec: &s,
                cursor: None,
                known_ids: None,
                resume: None,
                clock: std::sync::Arc::new(env.clock.clone()),
                concurrency: 2,
                journal: &first,
                progress: &jiralink_sync::NoProgress,
            })
            .await;
            if killed.is_ok() {
                break;
            }
            let last = first.checkpoints().last().cloned().unwrap();
            let second = MemJournal::continuing(&first);
            let outcome = run_export(jiralink_sync::ExportJob {
                client: &client,
                spec: &s,
                cursor: None,
                known_ids: None,
                resume: Some(&last),
                clock: std::sync::Arc::new(env.clock.clone()),
                concurrency: 2,
                journal: &second,
                progress: &jiralink_sync::NoProgress,
            })
            .await
            .unwrap();
            let mut out = second.output();
            out.extend_from_slice(&outcome.tail);
            let resumed: Value = serde_json::from_slice(&out)
                .unwrap_or_else(|e| panic!("{resource} after {kill_after}: {e}"));
            assert_eq!(
                resumed, whole,
                "{resource} killed after {kill_after} checkpoints"
            );
            kill_after += 1;
        }
        if resource.needs_jql() {
            assert!(kill_after > 2, "{resource} took several checkpoints");
        }
    }
}

#[tokio::test]
async fn csv_of_a_list_and_of_comments() {
    let env = Env::start(SimConfig::for_tests()).await;
    let mut s = spec(Resource::Priorities);
    s.format = Format::Csv;
    let (out, _) = export_with(&env, &env.client, &s).await;
    let text = String::from_utf8(out).unwrap();
    let mut rows = text.split("\r\n");
    let header = rows.next().unwrap();
    assert!(header.starts_with("id,"), "{header}");
    assert!(header.contains(",name,"), "{header}");
    let (_, priorities) = env
        .http(Method::GET, "/priority/search?maxResults=1", None)
        .await;
    assert_eq!(
        rows.filter(|r| !r.is_empty()).count(),
        priorities["total"].as_u64().unwrap() as usize
    );

    let mut s = spec(Resource::Comments);
    s.jql = Some("project = DEMO".into());
    s.format = Format::Csv;
    let (out, _) = export_with(&env, &env.client, &s).await;
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let headers = reader.headers().unwrap().clone();
    let body = headers.iter().position(|h| h == "body").unwrap();
    let author = headers.iter().position(|h| h == "author").unwrap();
    for row in reader.records() {
        let row = row.unwrap();
        assert!(!row[body].contains("\"type\""), "ADF flattened to text");
        assert!(!row[author].contains('{'), "users flattened to their name");
    }
}

#[tokio::test]
async fn customer_requests_by_jql_are_the_requests_of_those_issues() {
    let env = Env::start(SimConfig::for_tests()).await;
    let help = crate::all_ids(&env.client, "project = HELP").await;
    assert!(!help.is_empty(), "the seeded service desk project");
    let mut s = spec(Resource::CustomerRequests);
    s.jql = Some("project = HELP".into());
    let (out, _) = export_with(&env, &env.client, &s).await;
    let by_jql: BTreeSet<String> = lines(&out).iter().map(|r| text_of(&r["issueId"])).collect();
    assert_eq!(by_jql, help.iter().cloned().collect::<BTreeSet<_>>());
    // Issues of other projects are no requests and are left out.
    s.jql = Some("project in (HELP, DEMO)".into());
    let (out, _) = export_with(&env, &env.client, &s).await;
    assert_eq!(lines(&out).len(), by_jql.len());

    s.service_desk = Some("1".into());
    let journal = MemJournal::default();
    let err = env
        .run(&s, None, None, None, 1, &journal)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_spec");
}

#[tokio::test]
async fn a_cancelled_run_stops_between_pages_with_a_closed_output() {
    let env = Env::start(SimConfig {
        size: jiralink_sim::DataSize::Medium,
        ..SimConfig::for_tests()
    })
    .await;
    let mut s = spec(Resource::Changelogs);
    s.jql = Some("project = MKT".into());
    s.format = Format::JsonArray;
    let journal = MemJournal::with(|j| j.cancel_after = Some(1));
    let outcome = env.run(&s, None, None, None, 1, &journal).await.unwrap();
    assert!(outcome.cancelled);
    assert!(outcome.cursor_after.is_none());
    assert_eq!(
        journal.checkpoints().len(),
        1,
        "stopped after the first page"
    );
    let mut out = journal.output();
    out.extend_from_slice(&outcome.tail);
    let records: Vec<Value> = serde_json::from_slice(&out).unwrap();
    assert_eq!(records.len() as u64, outcome.stats.total_records());
    assert!(!records.is_empty());
}

#[tokio::test]
async fn an_issue_deleted_while_the_run_reads_does_not_fail_it() {
    use futures::TryStreamExt as _;
    let env = Env::start(SimConfig {
        size: jiralink_sim::DataSize::Medium,
        ..SimConfig::for_tests()
    })
    .await;
    // The issue the second search page starts with.
    let ordered: Vec<String> = env
        .client
        .search_jql(jiralink_atlassian::SearchRequest {
            jql: "project = MKT ORDER BY updated ASC, key ASC".into(),
            fields: vec!["id".into()],
            max_results: Some(1000),
            ..Default::default()
        })
        .map_ok(|i| i.id)
        .try_collect()
        .await
        .unwrap();
    let victim = ordered[100].clone();
    let site = env.sim.site_url("demo");
    let (email, token) = (env.email.clone(), env.token.clone());
    let target = victim.clone();
    let hook: crate::Hook = std::sync::Arc::new(move |n| {
        let (site, email, token, target) =
            (site.clone(), email.clone(), token.clone(), target.clone());
        Box::pin(async move {
            if n == 1 {
                let http =
                    jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default())
                        .unwrap();
                let response = http
                    .delete(format!("{site}/rest/api/3/issue/{target}"))
                    .basic_auth(&email, Some(&token))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status().as_u16(), 204);
            }
        })
    });
    let journal = MemJournal::with(|j| j.on_checkpoint = Some(hook));
    let mut s = spec(Resource::Comments);
    s.jql = Some("project = MKT".into());
    let outcome = env.run(&s, None, None, None, 2, &journal).await.unwrap();
    let mut out = journal.output();
    out.extend_from_slice(&outcome.tail);
    let records = lines(&out);
    assert!(!records.is_empty());
    assert!(
        records.iter().all(|r| text_of(&r["issueId"]) != victim),
        "nothing of the deleted issue"
    );
}
