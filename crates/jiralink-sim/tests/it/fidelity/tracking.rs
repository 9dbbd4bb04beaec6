//! Watchers, votes, assignment, notifications, worklogs by id and the comment and worklog
//! lists, validated against the v3 document.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::{Area, Fidelity, error_sweep};

const V3: &str = "/rest/api/3";

pub(super) async fn exercise(fid: &Fidelity) {
    let get = |path: &str| fid.site(Method::GET, &format!("{V3}{path}"));
    let post = |path: &str| fid.site(Method::POST, &format!("{V3}{path}"));
    let put = |path: &str| fid.site(Method::PUT, &format!("{V3}{path}"));
    let delete = |path: &str| fid.site(Method::DELETE, &format!("{V3}{path}"));

    let bob = get("/user/search")
        .query(&[("query", "bob")])
        .send()
        .await
        .str("/0/accountId");
    let created = post("/issue")
        .json(json!({"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": "Tracked", "reporter": {"accountId": bob}, "timetracking": {"originalEstimate": "2d", "remainingEstimate": "1d"}}}))
        .send()
        .await;
    let key = created.str("/key");

    // Watchers.
    let watchers = format!("/issue/{key}/watchers");
    get(&watchers).send().await.expect(200);
    get("/issue/NOPE-1/watchers").send().await.expect(404);
    post(&watchers).json(json!(bob)).send().await.expect(204);
    post(&watchers)
        .json(json!("no-such-account"))
        .send()
        .await
        .expect(404);
    delete(&watchers)
        .query(&[("accountId", &bob)])
        .send()
        .await
        .expect(204);
    delete(&watchers).send().await.expect(400);

    // Votes.
    let votes = format!("/issue/{key}/votes");
    post(&votes).send().await.expect(204);
    get(&votes).send().await.expect(200);
    get("/issue/NOPE-1/votes").send().await.expect(404);
    delete(&votes).send().await.expect(204);
    delete(&votes).send().await.expect(404);
    post("/issue/NOPE-1/votes").send().await.expect(404);

    // Assignment and notification.
    let assignee = format!("/issue/{key}/assignee");
    put(&assignee)
        .json(json!({"accountId": bob}))
        .send()
        .await
        .expect(204);
    put(&assignee)
        .json(json!({"accountId": "nobody"}))
        .send()
        .await
        .expect(400);
    let notify = format!("/issue/{key}/notify");
    post(&notify)
        .json(json!({"subject": "Results", "textBody": "Ready", "htmlBody": "<p>Ready</p>", "to": {"assignee": true, "watchers": true, "users": [{"accountId": bob}]}}))
        .send()
        .await
        .expect(204);
    post(&notify)
        .json(json!({"subject": "Nobody", "to": {"voters": true}}))
        .send()
        .await
        .expect(400);

    // Worklogs by id.
    let logged = post(&format!("/issue/{key}/worklog"))
        .query(&[("adjustEstimate", "manual"), ("reduceBy", "1h")])
        .json(json!({"timeSpentSeconds": 3600, "started": "2026-01-04T10:00:00.000+0000"}))
        .send()
        .await;
    let worklog_id = logged.str("/id");
    let one = format!("/issue/{key}/worklog/{worklog_id}");
    get(&one).send().await.expect(200);
    get(&format!("/issue/{key}/worklog/1"))
        .send()
        .await
        .expect(404);
    put(&one)
        .query(&[("adjustEstimate", "new"), ("newEstimate", "4h")])
        .json(json!({"timeSpentSeconds": 7200}))
        .send()
        .await
        .expect(200);
    put(&one)
        .query(&[("adjustEstimate", "new")])
        .json(json!({"timeSpentSeconds": 7200}))
        .send()
        .await
        .expect(400);
    get(&format!("/issue/{key}"))
        .query(&[(
            "fields",
            "timetracking,progress,aggregateprogress,watches,votes,workratio",
        )])
        .send()
        .await
        .expect(200);

    // Lists.
    let comment = post(&format!("/issue/{key}/comment"))
        .json(json!({"body": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Listed"}]}]}}))
        .send()
        .await;
    let comment_id: u64 = comment.str("/id").parse().expect("id");
    post("/comment/list")
        .query(&[("expand", "renderedBody")])
        .json(json!({"ids": [comment_id, 10_000]}))
        .send()
        .await
        .expect(200);
    post("/comment/list")
        .json(json!({"ids": []}))
        .send()
        .await
        .expect(400);
    let worklog_number: u64 = worklog_id.parse().expect("id");
    post("/worklog/list")
        .json(json!({"ids": [worklog_number]}))
        .send()
        .await
        .expect(200);
    let too_many: Vec<Value> = (0..1001).map(|n| json!(n)).collect();
    post("/worklog/list")
        .json(json!({ "ids": too_many }))
        .send()
        .await
        .expect(400);
    get("/worklog/updated")
        .query(&[("since", "0"), ("expand", "properties")])
        .send()
        .await
        .expect(200);
    get("/worklog/updated")
        .query(&[("since", "yesterday")])
        .send()
        .await
        .expect(400);
    delete(&one)
        .query(&[("adjustEstimate", "manual"), ("increaseBy", "1h")])
        .send()
        .await
        .expect(204);
    delete(&one).send().await.expect(404);
    get("/worklog/deleted")
        .query(&[("since", "0")])
        .send()
        .await
        .expect(200);
    get("/worklog/deleted")
        .query(&[("since", "later")])
        .send()
        .await
        .expect(400);

    let one = format!("/issue/{key}/worklog/1");
    let calls: Vec<(Method, String)> = [
        (Method::GET, watchers.clone()),
        (Method::POST, watchers.clone()),
        (Method::DELETE, watchers),
        (Method::GET, votes.clone()),
        (Method::POST, votes.clone()),
        (Method::DELETE, votes),
        (Method::PUT, assignee),
        (Method::POST, notify),
        (Method::GET, one.clone()),
        (Method::PUT, one.clone()),
        (Method::DELETE, one),
        (Method::POST, "/comment/list".to_owned()),
        (Method::POST, "/worklog/list".to_owned()),
        (Method::GET, "/worklog/updated".to_owned()),
        (Method::GET, "/worklog/deleted".to_owned()),
    ]
    .into_iter()
    .map(|(m, p)| (m, format!("{V3}{p}")))
    .collect();
    // The sweeps are bursts; a second of simulated time refills the site's buckets.
    fid.sim.control().advance(Duration::from_secs(1));
    error_sweep(fid, Area::Platform, &calls).await;
    fid.sim.control().advance(Duration::from_secs(1));
}
