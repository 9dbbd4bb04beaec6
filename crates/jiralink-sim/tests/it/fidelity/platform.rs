//! Every platform operation, successful and failing, validated against the v3 document.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Area, Fidelity, error_sweep};

const V3: &str = "/rest/api/3";

fn doc(text: &str) -> Value {
    json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    ]})
}

#[tokio::test]
async fn platform_operations_match_the_openapi_document() {
    let fid = Fidelity::start().await;
    let get = |path: &str| fid.site(Method::GET, &format!("{V3}{path}"));
    let post = |path: &str| fid.site(Method::POST, &format!("{V3}{path}"));
    let put = |path: &str| fid.site(Method::PUT, &format!("{V3}{path}"));
    let delete = |path: &str| fid.site(Method::DELETE, &format!("{V3}{path}"));

    // The removed search family answers 410 whatever is sent.
    get("/search")
        .query(&[("jql", "project = DEMO")])
        .send()
        .await
        .expect(410);
    post("/search")
        .json(json!({"jql": "project = DEMO"}))
        .send()
        .await
        .expect(410);
    post("/search/id")
        .json(json!({"jql": "project = DEMO"}))
        .send()
        .await
        .expect(410);
    post("/expression/eval")
        .json(json!({"expression": "issue.key"}))
        .send()
        .await
        .expect(410);

    // Identity.
    get("/myself")
        .query(&[("expand", "groups,applicationRoles")])
        .send()
        .await
        .expect(200);
    let scoped = fid.sim.samples().scoped_api_token.clone();
    fid.gateway(Method::GET, &format!("{V3}/myself"))
        .auth(&crate::basic(&fid.sim.samples().email, &scoped))
        .send()
        .await
        .expect(200);
    get("/serverInfo").anonymous().send().await.expect(200);
    get("/serverInfo")
        .auth(&crate::basic("alice@example.com", "not-a-token"))
        .send()
        .await
        .expect(401);

    // Search.
    get("/search/jql")
        .query(&[
            ("jql", "project = DEMO ORDER BY key"),
            ("fields", "*all"),
            ("expand", "names,schema,renderedFields,changelog"),
            ("maxResults", "3"),
        ])
        .send()
        .await
        .expect(200);
    get("/search/jql").send().await.expect(400);
    let first = post("/search/jql")
        .json(json!({"jql": "project = DEMO ORDER BY key", "fields": ["summary", "status", "assignee"], "maxResults": 2}))
        .send()
        .await;
    let token = first.str("/nextPageToken");
    post("/search/jql")
        .json(json!({"jql": "project = DEMO ORDER BY key", "fields": ["summary"], "maxResults": 2, "nextPageToken": token}))
        .send()
        .await
        .expect(200);
    post("/search/jql")
        .json(json!({"jql": "project = DEMO ORDER BY key", "fields": ["id"]}))
        .send()
        .await
        .expect(200);
    post("/search/jql")
        .json(json!({"jql": "ORDER BY created"}))
        .send()
        .await
        .expect(400);
    post("/search/jql")
        .json(json!({"jql": "project = = DEMO"}))
        .send()
        .await
        .expect(400);
    post("/search/approximate-count")
        .json(json!({"jql": "project = DEMO"}))
        .send()
        .await
        .expect(200);
    post("/search/approximate-count")
        .json(json!({"jql": ""}))
        .send()
        .await
        .expect(400);

    // Catalogue.
    get("/project/search")
        .query(&[
            ("expand", "description,lead,issueTypes,url,insight"),
            ("orderBy", "-issueCount"),
        ])
        .send()
        .await
        .expect(200);
    get("/project/search")
        .query(&[("query", "no such project")])
        .send()
        .await
        .expect(404);
    get("/project/DEMO").send().await.expect(200);
    get("/project/HELP").send().await.expect(200);
    get("/project/NOPE").send().await.expect(404);
    get("/field").send().await.expect(200);
    get("/field/search")
        .query(&[("type", "custom"), ("expand", "key")])
        .send()
        .await
        .expect(200);
    get("/field/search")
        .query(&[("maxResults", "many")])
        .send()
        .await
        .expect(400);
    get("/issuetype").send().await.expect(200);
    get("/status").send().await.expect(200);
    get("/user/search")
        .query(&[("query", "bob")])
        .send()
        .await
        .expect(200);
    get("/user/search").send().await.expect(400);
    get("/users/search")
        .query(&[("maxResults", "5")])
        .send()
        .await
        .expect(200);
    get("/users/search")
        .query(&[("maxResults", "x")])
        .send()
        .await
        .expect(400);

    // Create, read, edit.
    let created = post("/issue")
        .json(json!({"fields": {
            "project": {"key": "DEMO"}, "issuetype": {"name": "Story"}, "summary": "Fidelity",
            "description": doc("Checked against the document"), "labels": ["fidelity"],
            "priority": {"name": "High"}, "duedate": "2026-02-01", "customfield_10010": 3
        }, "update": {"comment": [{"add": {"body": doc("First")}}]}, "properties": [{"key": "p", "value": {"a": 1}}]}))
        .send()
        .await;
    created.expect(201);
    let key = created.str("/key");
    post("/issue")
        .json(json!({"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Story"}}}))
        .send()
        .await
        .expect(400);
    let good = json!({"fields": {"project": {"key": "MKT"}, "issuetype": {"name": "Task"}, "summary": "one"}});
    let bad = json!({"fields": {"project": {"key": "MKT"}, "issuetype": {"name": "Epic"}, "summary": "two"}});
    post("/issue/bulk")
        .json(json!({"issueUpdates": [good, bad.clone()]}))
        .send()
        .await
        .expect(201);
    post("/issue/bulk")
        .json(json!({"issueUpdates": [bad]}))
        .send()
        .await
        .expect(400);
    post("/issue/bulkfetch")
        .json(json!({"issueIdsOrKeys": [key, "DEMO-1", "NOPE-1"], "fields": ["*all"], "expand": ["names", "schema", "changelog", "renderedFields"], "properties": ["p"]}))
        .send()
        .await
        .expect(200);
    post("/issue/bulkfetch")
        .json(json!({"issueIdsOrKeys": []}))
        .send()
        .await
        .expect(400);
    for expand in [
        "renderedFields,names,schema,transitions,operations,editmeta,changelog,versionedRepresentations",
        "",
    ] {
        get(&format!("/issue/{key}"))
            .query(&[("expand", expand), ("properties", "*all")])
            .send()
            .await
            .expect(200);
    }
    get("/issue/DEMO-1").send().await.expect(200);
    get("/issue/HELP-1")
        .query(&[("expand", "names,schema")])
        .send()
        .await
        .expect(200);
    get("/issue/NOPE-1").send().await.expect(404);
    put(&format!("/issue/{key}"))
        .json(json!({"fields": {"summary": "Fidelity, edited"}, "update": {"labels": [{"add": "edited"}]}}))
        .send()
        .await
        .expect(204);
    put(&format!("/issue/{key}"))
        .query(&[("returnIssue", "true")])
        .json(json!({"fields": {"customfield_10011": {"value": "Platform"}}}))
        .send()
        .await;
    put(&format!("/issue/{key}"))
        .json(json!({"fields": {"duedate": "tomorrow"}}))
        .send()
        .await
        .expect(400);
    put("/issue/NOPE-1")
        .json(json!({"fields": {"summary": "x"}}))
        .send()
        .await
        .expect(404);

    // Transitions.
    let transitions = get(&format!("/issue/{key}/transitions"))
        .query(&[("expand", "transitions.fields")])
        .send()
        .await;
    let id = transitions.str("/transitions/0/id");
    get("/issue/NOPE-1/transitions").send().await.expect(404);
    post(&format!("/issue/{key}/transitions"))
        .json(json!({"transition": {"id": id}}))
        .send()
        .await
        .expect(204);
    post(&format!("/issue/{key}/transitions"))
        .json(json!({"transition": {"id": "99999"}}))
        .send()
        .await
        .expect(400);

    // Properties.
    let property = format!("/issue/{key}/properties/fidelity");
    put(&property)
        .json(json!({"v": 1}))
        .send()
        .await
        .expect(201);
    put(&property)
        .json(json!({"v": 2}))
        .send()
        .await
        .expect(200);
    put("/issue/NOPE-1/properties/x")
        .json(json!(1))
        .send()
        .await
        .expect(404);
    get(&format!("/issue/{key}/properties"))
        .send()
        .await
        .expect(200);
    get("/issue/NOPE-1/properties").send().await.expect(404);
    get(&property).send().await.expect(200);
    get(&format!("/issue/{key}/properties/missing"))
        .send()
        .await
        .expect(404);
    delete(&property).send().await.expect(204);
    delete(&property).send().await.expect(404);

    // Metadata.
    let types = get("/issue/createmeta/DEMO/issuetypes").send().await;
    let type_id = types.str("/issueTypes/0/id");
    get("/issue/createmeta/NOPE/issuetypes")
        .send()
        .await
        .expect(404);
    get(&format!("/issue/createmeta/DEMO/issuetypes/{type_id}"))
        .send()
        .await
        .expect(200);
    get("/issue/createmeta/DEMO/issuetypes/99999")
        .send()
        .await
        .expect(404);
    get(&format!("/issue/{key}/editmeta"))
        .send()
        .await
        .expect(200);
    get("/issue/NOPE-1/editmeta").send().await.expect(404);

    // Comments.
    let comments = format!("/issue/{key}/comment");
    get(&comments)
        .query(&[("expand", "renderedBody")])
        .send()
        .await
        .expect(200);
    get("/issue/NOPE-1/comment").send().await.expect(404);
    let comment = post(&comments)
        .json(json!({"body": doc("Second"), "visibility": {"type": "role", "value": "Administrators"}}))
        .send()
        .await;
    comment.expect(201);
    let comment_id = comment.str("/id");
    post(&comments)
        .json(json!({"body": {"type": "doc", "version": 1, "content": []}}))
        .send()
        .await
        .expect(400);
    let one = format!("{comments}/{comment_id}");
    get(&one)
        .query(&[("expand", "renderedBody")])
        .send()
        .await
        .expect(200);
    get(&format!("{comments}/99999")).send().await.expect(404);
    put(&one)
        .json(json!({"body": doc("Changed")}))
        .send()
        .await
        .expect(200);
    put(&format!("{comments}/99999"))
        .json(json!({"body": doc("x")}))
        .send()
        .await
        .expect(404);
    delete(&one).send().await.expect(204);
    delete(&one).send().await.expect(404);

    // Worklogs and change logs.
    let worklogs = format!("/issue/{key}/worklog");
    post(&worklogs)
        .json(json!({"timeSpentSeconds": 12000, "started": "2026-01-04T10:00:00.000+0000", "comment": doc("Did it")}))
        .send()
        .await
        .expect(201);
    post(&worklogs)
        .json(json!({"timeSpentSeconds": 0}))
        .send()
        .await
        .expect(400);
    get(&worklogs).send().await.expect(200);
    get("/issue/DEMO-2/worklog").send().await.expect(200);
    get("/issue/NOPE-1/worklog").send().await.expect(404);
    get(&format!("/issue/{key}/changelog"))
        .send()
        .await
        .expect(200);
    get("/issue/DEMO-3/changelog")
        .query(&[("maxResults", "2")])
        .send()
        .await
        .expect(200);
    get("/issue/NOPE-1/changelog").send().await.expect(404);
    post("/changelog/bulkfetch")
        .json(json!({"issueIdsOrKeys": [key, "DEMO-2", "DEMO-3"], "fieldIds": ["status"], "maxResults": 2}))
        .send()
        .await
        .expect(200);
    post("/changelog/bulkfetch")
        .invalid_json(json!({"issueIdsOrKeys": []}))
        .send()
        .await
        .expect(400);

    super::tracking::exercise(&fid).await;

    // Delete.
    delete(&format!("/issue/{key}")).send().await.expect(204);
    delete(&format!("/issue/{key}")).send().await.expect(404);

    // Every operation without credentials and with an unrelated scope, through the gateway.
    let calls: Vec<(Method, String)> = [
        (Method::GET, "/myself"),
        (Method::GET, "/search/jql"),
        (Method::POST, "/search/jql"),
        (Method::POST, "/search/approximate-count"),
        (Method::GET, "/project/search"),
        (Method::GET, "/project/DEMO"),
        (Method::GET, "/field"),
        (Method::GET, "/field/search"),
        (Method::GET, "/issuetype"),
        (Method::GET, "/status"),
        (Method::GET, "/user/search"),
        (Method::GET, "/users/search"),
        (Method::POST, "/issue"),
        (Method::POST, "/issue/bulk"),
        (Method::POST, "/issue/bulkfetch"),
        (Method::GET, "/issue/DEMO-1"),
        (Method::PUT, "/issue/DEMO-1"),
        (Method::DELETE, "/issue/DEMO-1"),
        (Method::GET, "/issue/DEMO-1/transitions"),
        (Method::POST, "/issue/DEMO-1/transitions"),
        (Method::GET, "/issue/DEMO-1/properties"),
        (Method::GET, "/issue/DEMO-1/properties/p"),
        (Method::PUT, "/issue/DEMO-1/properties/p"),
        (Method::DELETE, "/issue/DEMO-1/properties/p"),
        (Method::GET, "/issue/createmeta/DEMO/issuetypes"),
        (Method::GET, "/issue/createmeta/DEMO/issuetypes/10001"),
        (Method::GET, "/issue/DEMO-1/editmeta"),
        (Method::GET, "/issue/DEMO-1/comment"),
        (Method::POST, "/issue/DEMO-1/comment"),
        (Method::GET, "/issue/DEMO-1/comment/1"),
        (Method::PUT, "/issue/DEMO-1/comment/1"),
        (Method::DELETE, "/issue/DEMO-1/comment/1"),
        (Method::GET, "/issue/DEMO-1/worklog"),
        (Method::POST, "/issue/DEMO-1/worklog"),
        (Method::GET, "/issue/DEMO-1/changelog"),
        (Method::POST, "/changelog/bulkfetch"),
    ]
    .into_iter()
    .map(|(m, p)| (m, format!("{V3}{p}")))
    .collect();
    error_sweep(&fid, Area::Platform, &calls).await;
    super::agile::exercise(&fid).await;
    super::catalogues::exercise(&fid).await;

    super::links::exercise(&fid).await;
    burst_limits(&fid).await;
    super::webhooks::exercise(&fid).await;
    let (ops, validated) = fid.finish(Area::Platform);
    eprintln!("platform: {ops} operations, {validated} responses validated");
}

/// The burst limit (per site and method class) answers the new operations as it answers the
/// old ones: 429 with an `ErrorCollection` body (validated like every other answer) and
/// `Retry-After`, in each method class.
async fn burst_limits(fid: &Fidelity) {
    let control = fid.sim.control();
    control.advance(std::time::Duration::from_secs(2));
    control
        .update_knobs(|k| k.burst = jiralink_sim::knobs::BurstLimits::uniform(2))
        .expect("knobs");
    let calls: [(Method, &str, Option<Value>); 4] = [
        (Method::GET, "/priority/search", None),
        (Method::GET, "/issue/DEMO-2/watchers", None),
        (Method::POST, "/comment/list", Some(json!({"ids": [1]}))),
        (
            Method::PUT,
            "/issue/DEMO-2/assignee",
            Some(json!({"accountId": "-1"})),
        ),
    ];
    for (method, path, body) in calls {
        for attempt in 0..3 {
            let mut call = fid.site(method.clone(), &format!("{V3}{path}"));
            if let Some(body) = &body {
                call = call.json(body.clone());
            }
            let reply = call.send().await;
            if attempt < 2 {
                assert!(
                    reply.status.is_success(),
                    "{method} {path}: {}",
                    reply.status
                );
            } else {
                reply.expect(429);
                assert_eq!(reply.headers["retry-after"], "1", "{method} {path}");
            }
        }
        control.advance(std::time::Duration::from_secs(2));
    }
    control
        .update_knobs(|k| k.burst = jiralink_sim::knobs::BurstLimits::default())
        .expect("knobs");
}
