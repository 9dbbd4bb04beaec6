//! Whole exports: every issue once, formats, test limit, parallel mode, full changelog,
//! embedded comments and worklogs, rate limits, cancellation.

use std::collections::BTreeSet;

use jiralink_sim::{DataSize, SimConfig};
use jiralink_sync::{ExportKind, ExportSpec, Format, Resource};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::{Env, MemJournal, all_ids, id_counts, lines, versions};

fn issues(jql: Option<&str>) -> ExportSpec {
    let mut spec = ExportSpec::new(Resource::Issues);
    spec.jql = jql.map(str::to_owned);
    spec
}

fn medium() -> SimConfig {
    SimConfig {
        size: DataSize::Medium,
        ..SimConfig::for_tests()
    }
}

#[tokio::test]
async fn an_all_export_writes_every_issue_once_in_update_order() {
    let env = Env::start(medium()).await;
    let spec = issues(Some("project = MKT"));
    let (outcome, out) = env.run_all(&spec, None, None, 1).await;
    let records = lines(&out);
    let expected = all_ids(&env.client, "project = MKT").await;
    assert!(expected.len() > 300, "several pages: {}", expected.len());
    let got: BTreeSet<String> = id_counts(&records).into_keys().collect();
    assert_eq!(got, expected.iter().cloned().collect::<BTreeSet<_>>());
    assert_eq!(records.len(), expected.len(), "each once");
    let times: Vec<i64> = records
        .iter()
        .map(|r| time_ms(r["fields"]["updated"].as_str().unwrap()))
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "by update time");
    assert!(
        records[0]["fields"].as_object().unwrap().len() > 10,
        "all fields"
    );
    let s = &outcome.stats;
    assert_eq!(s.records["issues"], expected.len() as u64);
    assert_eq!(s.pages, expected.len().div_ceil(100) as u64);
    assert_eq!(s.bytes, out.len() as u64);
    assert!(s.requests > s.pages, "{s:?}");
    assert_eq!(s.expected, Some(expected.len() as u64));
    assert!(outcome.cursor_after.is_none(), "only deltas move a cursor");
}

fn time_ms(text: &str) -> i64 {
    // `2026-01-05T09:30:00.000+0000` as RFC 3339 (`+00:00`).
    let (head, zone) = text.split_at(text.len() - 5);
    let rfc = format!("{head}{}:{}", &zone[..3], &zone[3..]);
    let t =
        time::OffsetDateTime::parse(&rfc, &time::format_description::well_known::Rfc3339).unwrap();
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

#[tokio::test]
async fn a_json_array_is_one_valid_array_of_the_same_records() {
    let env = Env::start(medium()).await;
    let spec = issues(Some("project = OPS"));
    let (_, ndjson) = env.run_all(&spec, None, None, 1).await;
    let mut array_spec = spec.clone();
    array_spec.format = Format::JsonArray;
    let journal = MemJournal::default();
    let outcome = env
        .run(&array_spec, None, None, None, 1, &journal)
        .await
        .unwrap();
    assert_eq!(outcome.tail, b"]\n");
    let chunks = journal.state.lock().unwrap().chunks.clone();
    assert!(
        chunks[0].starts_with(b"["),
        "the first checkpoint opens the array"
    );
    let mut out = journal.output();
    out.extend_from_slice(&outcome.tail);
    let array: Vec<Value> = serde_json::from_slice(&out).unwrap();
    assert_eq!(array, lines(&ndjson));
}

#[tokio::test]
async fn a_test_export_stops_at_its_limit() {
    let env = Env::start(medium()).await;
    let mut spec = issues(None);
    spec.kind = ExportKind::Test { limit: 7 };
    let (outcome, out) = env.run_all(&spec, None, None, 8).await;
    assert_eq!(lines(&out).len(), 7);
    assert_eq!(outcome.stats.records["issues"], 7);
    assert_eq!(outcome.stats.pages, 1, "one page of seven");
    assert_eq!(outcome.stats.expected, Some(7));
    spec.kind = ExportKind::Test { limit: 250 };
    let (_, out) = env.run_all(&spec, None, None, 1).await;
    assert_eq!(lines(&out).len(), 250);
}

#[tokio::test]
async fn parallel_hydration_writes_the_same_output_as_one_cursor() {
    let env = Env::start(medium()).await;
    // Id pages of 250 (Jira may send fewer ids than asked for): several id pages, each of
    // two full bulk fetches and a half one.
    env.control()
        .update_knobs(|k| k.search_page_cap = 250)
        .unwrap();
    let spec = issues(Some("project in (MKT, OPS)"));
    let (single, one) = env.run_all(&spec, None, None, 1).await;
    let (parallel, many) = env.run_all(&spec, None, None, 6).await;
    assert!(parallel.stats.records["issues"] > 500);
    assert_eq!(
        String::from_utf8(many).unwrap(),
        String::from_utf8(one).unwrap()
    );
    assert_eq!(parallel.stats.records, single.stats.records);
    let bulk = env
        .control()
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/issue/bulkfetch"))
        .count();
    assert!(bulk >= 10, "{bulk} bulk fetches");
}

#[tokio::test]
async fn fields_by_name_and_expansions_are_asked_for() {
    let env = Env::start(SimConfig::for_tests()).await;
    let fields = env.client.fields().await.unwrap();
    let custom = fields
        .iter()
        .find(|f| f["custom"] == true && f["name"].is_string())
        .expect("a custom field");
    let mut spec = issues(Some("project = DEMO"));
    spec.fields = vec![
        "summary".into(),
        custom["name"].as_str().unwrap().to_uppercase(),
    ];
    spec.expand = vec!["names".into()];
    let (_, out) = env.run_all(&spec, None, None, 1).await;
    let records = lines(&out);
    assert!(!records.is_empty());
    let keys: BTreeSet<&str> = records[0]["fields"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let id = custom["id"].as_str().unwrap();
    assert!(
        keys.contains("summary") && keys.contains("updated"),
        "{keys:?}"
    );
    assert!(keys.len() <= 3, "only what was asked: {keys:?}");
    assert!(keys.len() == 2 || keys.contains(id), "{keys:?}");
    assert_eq!(records[0]["names"][id], custom["name"], "names expanded");

    spec.fields = vec!["No Such Field".into()];
    let journal = MemJournal::default();
    let err = env
        .run(&spec, None, None, None, 1, &journal)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_spec", "{err}");
}

#[tokio::test]
async fn the_full_changelog_holds_every_entry_past_one_hundred() {
    let env = Env::start(SimConfig::for_tests()).await;
    env.control()
        .update_knobs(|k| {
            k.per_issue_writes_per_2s = 0;
            k.per_issue_writes_per_30s = 0;
            k.burst.enabled = false;
        })
        .unwrap();
    for n in 0..130 {
        env.edit("DEMO-1", &format!("version {n}")).await;
    }
    let mut spec = issues(Some("key = DEMO-1"));
    spec.full_changelog = true;
    spec.expand = vec!["changelog".into()];
    let (_, out) = env.run_all(&spec, None, None, 1).await;
    let records = lines(&out);
    assert_eq!(records.len(), 1);
    let log = &records[0]["changelog"];
    let histories = log["histories"].as_array().unwrap();
    assert!(histories.len() >= 130, "{} entries", histories.len());
    assert_eq!(log["total"], histories.len());
    let summaries: BTreeSet<String> = histories
        .iter()
        .flat_map(|h| h["items"].as_array().unwrap().iter())
        .filter(|i| i["field"] == "summary")
        .map(|i| i["toString"].as_str().unwrap_or_default().to_owned())
        .collect();
    for n in 0..130 {
        assert!(summaries.contains(&format!("version {n}")), "version {n}");
    }
}

#[tokio::test]
async fn comments_and_worklogs_are_embedded_whole() {
    let env = Env::start(SimConfig::for_tests()).await;
    env.control()
        .update_knobs(|k| {
            k.per_issue_writes_per_2s = 0;
            k.per_issue_writes_per_30s = 0;
            k.burst.enabled = false;
        })
        .unwrap();
    for n in 0..120 {
        let body = json!({"body": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": format!("note {n}")}]}]}});
        let (status, answer) = env
            .http(reqwest::Method::POST, "/issue/DEMO-2/comment", Some(body))
            .await;
        assert_eq!(status, 201, "{answer}");
    }
    let (_, worklogs) = env
        .http(reqwest::Method::GET, "/issue/DEMO-2/worklog", None)
        .await;
    let mut spec = issues(Some("key = DEMO-2"));
    spec.comments = true;
    spec.worklogs = true;
    let (_, out) = env.run_all(&spec, None, None, 1).await;
    let records = lines(&out);
    let comment = &records[0]["fields"]["comment"];
    assert!(comment["comments"].as_array().unwrap().len() >= 120);
    assert_eq!(
        comment["total"],
        comment["comments"].as_array().unwrap().len()
    );
    assert_eq!(
        records[0]["fields"]["worklog"]["worklogs"]
            .as_array()
            .unwrap()
            .len() as u64,
        worklogs["total"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn rate_limits_are_waited_out_counted_and_lose_nothing() {
    let env = Env::start(medium()).await;
    env.control()
        .update_knobs(|k| {
            k.burst.post = 3;
        })
        .unwrap();
    let spec = issues(Some("project = MKT"));
    let (outcome, out) = env.run_all(&spec, None, None, 4).await;
    let records = lines(&out);
    let expected = all_ids(&env.client, "project = MKT").await;
    assert_eq!(records.len(), expected.len());
    assert!(id_counts(&records).values().all(|n| *n == 1));
    let s = &outcome.stats;
    assert!(s.rate_limit_waits > 0, "{s:?}");
    assert!(s.rate_limit_wait_ms > 0, "{s:?}");
    assert!(s.retries >= s.rate_limit_waits, "{s:?}");
    assert!(s.requests > s.retries, "{s:?}");
}

#[tokio::test]
async fn a_cancel_stops_between_pages_with_a_closed_output() {
    let env = Env::start(medium()).await;
    let mut spec = issues(Some("project = MKT"));
    spec.format = Format::JsonArray;
    let journal = MemJournal::with(|j| j.cancel_after = Some(2));
    let outcome = env.run(&spec, None, None, None, 1, &journal).await.unwrap();
    assert!(outcome.cancelled);
    assert!(outcome.cursor_after.is_none());
    assert_eq!(journal.checkpoints().len(), 2);
    let mut out = journal.output();
    out.extend_from_slice(&outcome.tail);
    let array: Vec<Value> = serde_json::from_slice(&out).unwrap();
    assert_eq!(array.len(), 200);
    assert_eq!(versions(&array).len(), 200);
}
