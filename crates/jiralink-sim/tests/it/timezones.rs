//! Date-times are written in the calling account's time zone, with daylight-saving changes.

use std::collections::BTreeSet;
use std::time::Duration;

use jiralink_sim::SimHandle;
use jiralink_sim::control::{NewApiToken, NewUser, TokenKindInput};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::platform::{Api, expect};
use crate::{basic, start};

/// A member of `demo` in `zone`, with a classic token, on API version 3.
fn member(sim: &SimHandle, name: &str, zone: &str) -> Api {
    let email = format!("{name}@example.com");
    sim.control()
        .add_user(NewUser {
            email: email.clone(),
            display_name: name.to_owned(),
            time_zone: Some(zone.to_owned()),
            sites: vec!["demo".to_owned()],
            active: None,
        })
        .expect("user");
    let token = sim
        .control()
        .add_api_token(NewApiToken {
            email: email.clone(),
            kind: TokenKindInput::Classic,
            scopes: Vec::new(),
            expires_in_secs: None,
            label: None,
        })
        .expect("token")
        .token;
    Api {
        base: format!("{}/rest/api/3", sim.site_url("demo")),
        auth: basic(&email, &token),
    }
}

/// `2026-01-05T20:30:00.000+1100` → (epoch ms, offset text).
fn instant(text: &str) -> (i64, String) {
    assert_eq!(text.len(), 28, "{text}");
    let (local, offset) = text.split_at(23);
    let dt: jiff::civil::DateTime = local.parse().expect("local date-time");
    let local_ms = dt
        .to_zoned(jiff::tz::TimeZone::UTC)
        .expect("in range")
        .timestamp()
        .as_millisecond();
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let hours: i64 = offset[1..3].parse().expect("hours");
    let minutes: i64 = offset[3..5].parse().expect("minutes");
    (
        local_ms - sign * (hours * 60 + minutes) * 60_000,
        offset.to_owned(),
    )
}

/// The offset `zone` has at `ms`, as Jira writes it.
fn offset_in(zone: &str, ms: i64) -> String {
    let tz = jiff::tz::TimeZone::get(zone).expect("zone");
    let seconds = tz
        .to_offset(jiff::Timestamp::from_millisecond(ms).expect("instant"))
        .seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}{:02}", minutes / 60, minutes % 60)
}

fn datetimes(fields: &Value) -> Vec<(String, String)> {
    [
        "created",
        "updated",
        "statuscategorychangedate",
        "resolutiondate",
    ]
    .iter()
    .filter_map(|f| Some(((*f).to_owned(), fields[*f].as_str()?.to_owned())))
    .collect()
}

#[tokio::test]
async fn issue_datetimes_follow_each_callers_zone() {
    let sim = start().await;
    let zones = [
        "Etc/UTC",
        "Europe/London",
        "America/New_York",
        "Asia/Kolkata",
        "Australia/Sydney",
    ];
    let apis: Vec<Api> = zones
        .iter()
        .enumerate()
        .map(|(n, z)| member(&sim, &format!("zone{n}"), z))
        .collect();
    let search = json!({
        "jql": "project = DEMO AND resolution IS NOT EMPTY ORDER BY key",
        "fields": ["created", "updated", "statuscategorychangedate", "resolutiondate", "comment", "worklog"],
        "expand": "changelog",
        "maxResults": 40,
    });
    let mut pages = Vec::new();
    for api in &apis {
        let reply = api.post("/search/jql", &search).await;
        pages.push(expect(&reply, StatusCode::OK)["issues"].clone());
    }
    let utc = pages[0].as_array().expect("issues");
    assert!(!utc.is_empty());
    let mut offsets = BTreeSet::new();
    for (zone, page) in zones.iter().zip(&pages) {
        for (issue, reference) in page.as_array().expect("issues").iter().zip(utc) {
            let mine = datetimes(&issue["fields"]);
            let theirs = datetimes(&reference["fields"]);
            assert_eq!(mine.len(), 4, "{issue:#}");
            for ((field, text), (_, utc_text)) in mine.iter().zip(&theirs) {
                let (ms, offset) = instant(text);
                assert_eq!(
                    ms,
                    instant(utc_text).0,
                    "{zone} {field}: {text} vs {utc_text}"
                );
                assert_eq!(offset, offset_in(zone, ms), "{zone} {field}: {text}");
                offsets.insert(offset);
            }
            let nested = [
                &issue["fields"]["comment"]["comments"],
                &issue["fields"]["worklog"]["worklogs"],
                &issue["changelog"]["histories"],
            ];
            for list in nested {
                for item in list.as_array().expect("list") {
                    for key in ["created", "updated", "started"] {
                        if let Some(text) = item[key].as_str() {
                            let (ms, offset) = instant(text);
                            assert_eq!(offset, offset_in(zone, ms), "{zone} {key}: {text}");
                        }
                    }
                }
            }
        }
    }
    // Both sides of the daylight-saving changes of New York, London and Sydney.
    for expected in [
        "+0000", "+0100", "-0500", "-0400", "+0530", "+1000", "+1100",
    ] {
        assert!(offsets.contains(expected), "{expected} in {offsets:?}");
    }
}

#[tokio::test]
async fn daylight_saving_changes_the_offset() {
    let sim = start().await;
    let api = member(&sim, "nyc", "America/New_York");
    let created = api
        .post(
            "/issue",
            &json!({"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": "Across the change"}}),
        )
        .await;
    let key = expect(&created, StatusCode::CREATED)["key"]
        .as_str()
        .expect("key")
        .to_owned();
    // 2026-01-05 → 2026-03-09: New York moved to daylight time on 8 March.
    sim.control().advance(Duration::from_secs(63 * 86_400));
    let comment = api
        .post(
            &format!("/issue/{key}/comment"),
            &json!({"body": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Later"}]}]}}),
        )
        .await;
    let comment = expect(&comment, StatusCode::CREATED);
    assert_eq!(comment["created"], "2026-03-09T05:30:00.000-0400");
    let issue = api
        .get(&format!("/issue/{key}?fields=created,updated"))
        .await;
    let fields = &expect(&issue, StatusCode::OK)["fields"];
    assert_eq!(fields["created"], "2026-01-05T04:30:00.000-0500");
    assert_eq!(fields["updated"], "2026-03-09T05:30:00.000-0400");
    let info = expect(&api.get("/serverInfo").await, StatusCode::OK).clone();
    assert_eq!(info["serverTime"], "2026-03-09T05:30:00.000-0400");
}

#[tokio::test]
async fn myself_and_user_search_report_the_zone_dates_use() {
    let sim = start().await;
    let api = member(&sim, "kol", "Asia/Kolkata");
    let me = expect(&api.get("/myself").await, StatusCode::OK).clone();
    assert_eq!(me["timeZone"], "Asia/Kolkata");
    let info = expect(&api.get("/serverInfo").await, StatusCode::OK).clone();
    assert_eq!(info["serverTime"], "2026-01-05T15:00:00.000+0530");
    // Alice's account is in Sydney.
    let alice = Api::alice(&sim, "3");
    let me = expect(&alice.get("/myself").await, StatusCode::OK).clone();
    assert_eq!(me["timeZone"], "Australia/Sydney");
    let info = expect(&alice.get("/serverInfo").await, StatusCode::OK).clone();
    assert_eq!(info["serverTime"], "2026-01-05T20:30:00.000+1100");

    let users = expect(
        &alice.get("/users/search?maxResults=1000").await,
        StatusCode::OK,
    )
    .clone();
    let zones: BTreeSet<&str> = users
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["timeZone"].as_str())
        .collect();
    assert!(zones.len() >= 5, "{zones:?}");
    for zone in &zones {
        assert!(jiff::tz::TimeZone::get(zone).is_ok(), "{zone}");
    }
    // An assignee's timeZone, as embedded in an issue, is the one their own reads use.
    let page = alice
        .post(
            "/search/jql",
            &json!({"jql": "project = DEMO AND assignee IS NOT EMPTY", "fields": ["assignee"], "maxResults": 20}),
        )
        .await;
    for issue in expect(&page, StatusCode::OK)["issues"]
        .as_array()
        .expect("issues")
    {
        let assignee = &issue["fields"]["assignee"];
        let found = users
            .as_array()
            .expect("users")
            .iter()
            .find(|u| u["accountId"] == assignee["accountId"]);
        if let Some(user) = found {
            assert_eq!(user["timeZone"], assignee["timeZone"]);
        }
    }
}

#[tokio::test]
async fn unknown_zones_render_utc() {
    let sim = start().await;
    let api = member(&sim, "mars", "Mars/Olympus_Mons");
    let info = expect(&api.get("/serverInfo").await, StatusCode::OK).clone();
    assert_eq!(info["serverTime"], "2026-01-05T09:30:00.000+0000");
}

/// Attachments, worklogs and service-desk dates follow the caller's zone; Jira Software writes
/// sprint dates in UTC (`Z`) for everyone; version dates are plain dates.
#[tokio::test]
async fn newer_resources_write_datetimes_for_the_caller() {
    let sim = start().await;
    let api = member(&sim, "nyc2", "America/New_York");
    let created = api
        .post(
            "/issue",
            &json!({"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": "Zoned"}}),
        )
        .await;
    let key = expect(&created, StatusCode::CREATED)["key"]
        .as_str()
        .expect("key")
        .to_owned();

    const BOUNDARY: &str = "zoneboundary";
    let body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--{BOUNDARY}--\r\n"
    );
    let uploaded = crate::client()
        .post(format!("{}/issue/{key}/attachments", api.base))
        .header("authorization", &api.auth)
        .header("x-atlassian-token", "no-check")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .expect("upload");
    assert_eq!(uploaded.status(), StatusCode::OK);
    let uploaded: Value = uploaded.json().await.expect("json");
    assert_eq!(uploaded[0]["created"], "2026-01-05T04:30:00.000-0500");
    let id = uploaded[0]["id"].as_str().expect("id");
    let meta = api.get(&format!("/attachment/{id}")).await;
    assert_eq!(
        expect(&meta, StatusCode::OK)["created"],
        "2026-01-05T04:30:00.000-0500"
    );

    // After New York's change to daylight time.
    sim.control().advance(Duration::from_secs(63 * 86_400));
    let logged = api
        .post(
            &format!("/issue/{key}/worklog"),
            &json!({"timeSpent": "1h", "started": "2026-03-09T09:00:00.000+0000"}),
        )
        .await;
    let logged = expect(&logged, StatusCode::CREATED);
    assert_eq!(logged["started"], "2026-03-09T05:00:00.000-0400");
    let list = api.get(&format!("/issue/{key}/worklog")).await;
    let list = expect(&list, StatusCode::OK);
    let worklog = &list["worklogs"][0];
    assert_eq!(worklog["created"], "2026-03-09T05:30:00.000-0400");
    assert_eq!(worklog["updated"], "2026-03-09T05:30:00.000-0400");
    assert_eq!(worklog["started"], "2026-03-09T05:00:00.000-0400");

    let versions = api.get("/project/DEMO/versions").await;
    for v in expect(&versions, StatusCode::OK)
        .as_array()
        .expect("versions")
    {
        for key in ["releaseDate", "startDate"] {
            if let Some(date) = v[key].as_str() {
                assert_eq!(date.len(), 10, "{key}: {date}");
            }
        }
    }

    let sprints = crate::client()
        .get(format!(
            "{}/rest/agile/1.0/board/1/sprint",
            sim.site_url("demo")
        ))
        .header("authorization", &api.auth)
        .send()
        .await
        .expect("sprints");
    assert_eq!(sprints.status(), StatusCode::OK);
    let sprints: Value = sprints.json().await.expect("json");
    let mut dates = 0;
    for s in sprints["values"].as_array().expect("values") {
        for key in ["startDate", "endDate", "completeDate", "createdDate"] {
            if let Some(text) = s[key].as_str() {
                assert!(text.ends_with('Z'), "{key}: {text}");
                dates += 1;
            }
        }
    }
    assert!(dates > 0);

    let request = crate::client()
        .get(format!(
            "{}/rest/servicedeskapi/request?requestOwnership=ALL_REQUESTS&limit=1",
            sim.site_url("demo")
        ))
        .header("authorization", &api.auth)
        .send()
        .await
        .expect("requests");
    assert_eq!(request.status(), StatusCode::OK);
    let request: Value = request.json().await.expect("json");
    let first = &request["values"][0];
    let created = first["createdDate"]["iso8601"].as_str().expect("iso8601");
    assert!(
        created.ends_with("-0500") || created.ends_with("-0400"),
        "{created}"
    );
    let jira = first["createdDate"]["jira"].as_str().expect("jira");
    assert!(jira.ends_with(&created[created.len() - 5..]), "{jira}");
}
