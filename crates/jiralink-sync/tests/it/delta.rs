//! Delta runs: only what changed, nothing lost or doubled with index lag, writes during a run
//! and a searching account far from UTC; deletions.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use futures::FutureExt as _;
use jiralink_sim::{
    DataSize, SimConfig,
    control::{NewApiToken, NewUser, TokenKindInput},
};
use jiralink_sync::{DeltaCursor, ExportKind, ExportSpec, KnownIds, Resource};
use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::{Env, MemJournal, all_ids, lines, versions};

fn delta(jql: &str) -> ExportSpec {
    let mut spec = ExportSpec::new(Resource::Issues);
    spec.jql = Some(jql.to_owned());
    spec.kind = ExportKind::Delta { start: None };
    spec
}

#[tokio::test]
async fn a_second_delta_run_returns_only_what_changed() {
    let env = Env::start(SimConfig::for_tests()).await;
    let spec = delta("project in (DEMO, MOB)");
    let (first, out) = env.run_all(&spec, None, None, 1).await;
    let everything = all_ids(&env.client, "project in (DEMO, MOB)").await;
    assert_eq!(
        lines(&out).len(),
        everything.len(),
        "the first run is a full one"
    );
    let cursor = first.cursor_after.expect("a cursor");
    let now_ms = (env.control().now().unix_timestamp_nanos() / 1_000_000) as i64;
    assert_eq!(cursor.upper_ms, now_ms - 60_000, "now minus the lag");

    env.advance(600);
    env.edit("DEMO-3", "changed once").await;
    env.edit("MOB-1", "changed").await;
    env.edit("DEMO-3", "changed twice").await;
    env.edit("MKT-1", "outside the JQL").await;
    env.advance(120);
    let (second, out) = env.run_all(&spec, Some(&cursor), None, 1).await;
    let records = lines(&out);
    let keys: BTreeSet<&str> = records.iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(keys, BTreeSet::from(["DEMO-3", "MOB-1"]));
    assert_eq!(records.len(), 2);
    let demo3 = records.iter().find(|r| r["key"] == "DEMO-3").unwrap();
    assert_eq!(demo3["fields"]["summary"], "changed twice");

    // Runs soon after (inside the overlap) and much later find nothing new.
    let cursor = second.cursor_after.unwrap();
    assert!(cursor.boundary.len() >= 2, "{cursor:?}");
    env.advance(10);
    let (third, out) = env.run_all(&spec, Some(&cursor), None, 1).await;
    assert_eq!(lines(&out).len(), 0);
    assert!(third.stats.duplicates_skipped >= 2, "{:?}", third.stats);
    env.advance(3_600);
    let (_, out) = env
        .run_all(&spec, third.cursor_after.as_ref(), None, 1)
        .await;
    assert_eq!(lines(&out).len(), 0);
}

#[tokio::test]
async fn the_first_delta_run_starts_at_the_start_date() {
    let env = Env::start(SimConfig::for_tests()).await;
    env.advance(3_600);
    let start = env.control().now();
    env.advance(60);
    env.edit("DEMO-4", "after the start").await;
    env.advance(120);
    let mut spec = delta("project = DEMO");
    spec.kind = ExportKind::Delta { start: Some(start) };
    let (_, out) = env.run_all(&spec, None, None, 1).await;
    let records = lines(&out);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["key"], "DEMO-4");
}

/// Every version of every issue that any run wrote, in order.
#[derive(Default)]
struct Ledger {
    written: Vec<(String, String)>,
}

#[tokio::test]
async fn delta_runs_lose_nothing_with_index_lag_writes_during_runs_and_a_far_time_zone() {
    let sim = jiralink_sim::Sim::start(SimConfig {
        size: DataSize::Medium,
        ..SimConfig::for_tests()
    })
    .await
    .unwrap();
    let control = sim.control();
    control
        .add_user(NewUser {
            email: "kiri@example.com".into(),
            display_name: "Kiri".into(),
            time_zone: Some("Pacific/Kiritimati".into()),
            sites: vec!["demo".into()],
            active: None,
        })
        .unwrap();
    let token = control
        .add_api_token(NewApiToken {
            email: "kiri@example.com".into(),
            kind: TokenKindInput::Classic,
            scopes: vec![],
            expires_in_secs: None,
            label: None,
        })
        .unwrap()
        .token;
    let env = Env::with_account(sim, "kiri@example.com".into(), token);
    assert_eq!(
        env.client.myself().await.unwrap().time_zone.as_deref(),
        Some("Pacific/Kiritimati")
    );
    env.control()
        .update_knobs(|k| {
            k.index_lag_secs = 45;
            k.per_issue_writes_per_2s = 0;
            k.per_issue_writes_per_30s = 0;
        })
        .unwrap();
    let jql = "project = MKT";
    let keys: Vec<String> = {
        let ids = all_ids(&env.client, jql).await;
        assert!(ids.len() > 300);
        let (_, out) = env
            .run_all(
                &ExportSpec {
                    jql: Some(jql.into()),
                    ..ExportSpec::new(Resource::Issues)
                },
                None,
                None,
                1,
            )
            .await;
        lines(&out)
            .iter()
            .map(|r| r["key"].as_str().unwrap().to_owned())
            .collect()
    };
    let spec = delta(jql);
    let mut ledger = Ledger::default();
    let mut cursor: Option<DeltaCursor> = None;
    for round in 0..6usize {
        // Writes just before the run, still inside the index lag: invisible to this run.
        env.advance(20);
        env.edit(&keys[(round * 37) % keys.len()], &format!("before {round}"))
            .await;
        env.advance(5);
        // Writes while the run goes on: to issues already written and to ones still ahead,
        // with time passing between pages.
        let editor = env.editor();
        let control = env.control();
        let ahead = keys.clone();
        let journal = MemJournal::with(|j| {
            j.on_checkpoint = Some(Arc::new(move |n| {
                let (editor, control, keys) = (editor.clone(), control.clone(), ahead.clone());
                async move {
                    control.advance(std::time::Duration::from_secs(7));
                    let early = &keys[(n * 13 + round) % 50];
                    let late = &keys[keys.len() - 1 - (n * 17 + round) % 50];
                    editor.edit(early, &format!("during {round}.{n}")).await;
                    editor.edit(late, &format!("during {round}.{n}")).await;
                }
                .boxed()
            }));
        });
        let outcome = env
            .run(
                &spec,
                cursor.as_ref(),
                None,
                None,
                1 + round % 2 * 3,
                &journal,
            )
            .await
            .unwrap();
        let mut out = journal.output();
        out.extend_from_slice(&outcome.tail);
        ledger.written.extend(versions(&lines(&out)));
        cursor = outcome.cursor_after;
    }
    // A last run once everything is indexed and past the lag.
    env.advance(600);
    let (_, out) = env.run_all(&spec, cursor.as_ref(), None, 1).await;
    ledger.written.extend(versions(&lines(&out)));

    let unique: BTreeSet<&(String, String)> = ledger.written.iter().collect();
    assert_eq!(
        unique.len(),
        ledger.written.len(),
        "no version written twice"
    );
    let mut last: BTreeMap<&str, &str> = BTreeMap::new();
    for (id, updated) in &ledger.written {
        last.insert(id, updated);
    }
    let (_, now) = env
        .run_all(
            &ExportSpec {
                jql: Some(jql.into()),
                ..ExportSpec::new(Resource::Issues)
            },
            None,
            None,
            1,
        )
        .await;
    let current = versions(&lines(&now));
    assert_eq!(current.len(), keys.len());
    for (id, updated) in &current {
        assert_eq!(
            last.get(id.as_str()).copied(),
            Some(updated.as_str()),
            "issue {id}: latest version written"
        );
    }
}

#[tokio::test]
async fn deleted_issues_are_reported_once_and_moved_ones_not_at_all() {
    let env = Env::start(SimConfig::for_tests()).await;
    let mut spec = delta("project = DEMO AND summary !~ zzgone");
    spec.deletions = true;
    let (first, out) = env.run_all(&spec, None, None, 1).await;
    let known = first.known_ids.clone().expect("known ids");
    assert_eq!(known.len(), lines(&out).len());
    assert!(!lines(&out).iter().any(|r| r["deleted"] == true));

    let key_of = |n: &str| format!("DEMO-{n}");
    let mut gone = BTreeSet::new();
    for n in ["5", "9"] {
        let (_, issue) = env
            .http(reqwest::Method::GET, &format!("/issue/{}", key_of(n)), None)
            .await;
        gone.insert(issue["id"].as_str().unwrap().to_owned());
        let (status, body) = env
            .http(
                reqwest::Method::DELETE,
                &format!("/issue/{}", key_of(n)),
                None,
            )
            .await;
        assert_eq!(status, 204, "{body}");
    }
    let (_, moved) = env.http(reqwest::Method::GET, "/issue/DEMO-7", None).await;
    let moved = moved["id"].as_str().unwrap().to_owned();
    env.edit("DEMO-7", "zzgone").await;
    env.advance(120);
    env.control().clear_requests();
    let (second, out) = env
        .run_all(&spec, first.cursor_after.as_ref(), Some(&known), 1)
        .await;
    // Each candidate bulk fetch left out is confirmed by a single read answering 404; the
    // moved issue, which bulk fetch still returns, is never read on its own.
    let single_reads: BTreeSet<String> = env
        .control()
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .filter_map(|r| r.path.rsplit_once("/issue/").map(|(_, id)| id.to_owned()))
        .collect();
    assert_eq!(single_reads, gone);
    assert!(!single_reads.contains(&moved));
    let records = lines(&out);
    let deleted: Vec<&Value> = records.iter().filter(|r| r["deleted"] == true).collect();
    let ids: BTreeSet<String> = deleted
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, gone);
    assert!(deleted.iter().all(|r| r["detectedAt"].is_string()));
    assert_eq!(second.stats.records["deleted"], 2);
    let known2: KnownIds = second.known_ids.unwrap();
    assert_eq!(known2.len(), known.len() - 3);

    // Killed after its last checkpoint, before the finish: the resumed run scans again and
    // reports the same deletions with the same known ids.
    let journal = MemJournal::default();
    let again = env
        .run(
            &spec,
            first.cursor_after.as_ref(),
            Some(&known),
            None,
            1,
            &journal,
        )
        .await
        .unwrap();
    let last = journal.checkpoints().pop().unwrap();
    let resumed = MemJournal::continuing(&journal);
    let outcome = env
        .run(
            &spec,
            first.cursor_after.as_ref(),
            Some(&known),
            Some(&last),
            1,
            &resumed,
        )
        .await
        .unwrap();
    assert_eq!(outcome.tail, again.tail);
    assert_eq!(outcome.known_ids.as_ref(), Some(&known2));
    assert_eq!(outcome.cursor_after, again.cursor_after);
    let tail_records = lines(&outcome.tail);
    assert_eq!(tail_records.len(), 2, "the deletions come with the tail");

    env.advance(120);
    let (_, out) = env
        .run_all(&spec, second.cursor_after.as_ref(), Some(&known2), 1)
        .await;
    assert!(lines(&out).is_empty(), "reported once");
}
