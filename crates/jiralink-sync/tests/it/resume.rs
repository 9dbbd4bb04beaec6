//! Resuming: a run killed after any checkpoint and resumed from it writes each record once.

use std::task::Poll;

use jiralink_sim::{DataSize, SimConfig};
use jiralink_sync::{Checkpoint, ExportSpec, Format, Resource};
use pretty_assertions::assert_eq;

use crate::{Env, MemJournal, id_counts, lines};

fn spec(jql: &str, format: Format) -> ExportSpec {
    let mut spec = ExportSpec::new(Resource::Issues);
    spec.jql = Some(jql.to_owned());
    spec.format = format;
    spec
}

fn medium() -> SimConfig {
    SimConfig {
        size: DataSize::Medium,
        ..SimConfig::for_tests()
    }
}

/// Runs `spec` killed after `k` checkpoints (the journal refuses the next one; after the last
/// one, the kill comes before the finish), then resumes from the last checkpoint, possibly
/// altered by `tamper`; returns the whole output.
async fn killed_and_resumed(
    env: &Env,
    spec: &ExportSpec,
    concurrency: usize,
    k: usize,
    tamper: impl Fn(&mut Checkpoint),
) -> Vec<u8> {
    let journal = MemJournal::with(|j| j.fail_after = Some(k));
    if let Err(err) = env.run(spec, None, None, None, concurrency, &journal).await {
        assert_eq!(err.code(), "journal");
    }
    let mut last = journal.checkpoints().pop().expect("a checkpoint");
    tamper(&mut last);
    let resumed = MemJournal::continuing(&journal);
    let outcome = env
        .run(spec, None, None, Some(&last), concurrency, &resumed)
        .await
        .unwrap();
    let mut out = resumed.output();
    out.extend_from_slice(&outcome.tail);
    out
}

#[tokio::test]
async fn a_run_resumed_from_any_checkpoint_writes_each_record_once() {
    let env = Env::start(medium()).await;
    for (format, concurrency, jql) in [
        (Format::Ndjson, 1, "project = MKT"),
        (Format::JsonArray, 1, "project = OPS"),
        (Format::Ndjson, 4, "project in (DEMO, MKT)"),
    ] {
        let spec = spec(jql, format);
        // In parallel mode, id pages of 150 (Jira may send fewer ids than asked for): kills
        // fall inside id pages and on their boundaries.
        let cap = if concurrency > 1 { 150 } else { 0 };
        env.control()
            .update_knobs(|k| k.search_page_cap = cap)
            .unwrap();
        let journal = MemJournal::default();
        let outcome = env
            .run(&spec, None, None, None, concurrency, &journal)
            .await
            .unwrap();
        let mut reference = journal.output();
        reference.extend_from_slice(&outcome.tail);
        let n = journal.checkpoints().len();
        assert!(n >= 2, "{jql}: {n} checkpoints");
        for k in 1..=n {
            let out = killed_and_resumed(&env, &spec, concurrency, k, |_| {}).await;
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(reference.clone()).unwrap(),
                "{jql}, {format:?}, killed after checkpoint {k} of {n}"
            );
        }
    }
}

#[tokio::test]
async fn a_refused_page_token_restarts_the_search_at_the_last_position() {
    let env = Env::start(medium()).await;
    let spec = spec("project = MKT", Format::Ndjson);
    let (_, reference) = env.run_all(&spec, None, None, 1).await;
    for k in [1, 3] {
        let out = killed_and_resumed(&env, &spec, 1, k, |cp| {
            cp.0["token"] = "not-a-token".into();
        })
        .await;
        assert_eq!(
            String::from_utf8(out).unwrap(),
            String::from_utf8(reference.clone()).unwrap(),
            "killed after {k}"
        );
    }
    // In parallel mode, inside an id page: the rest of the id page is read first, then the
    // refused token sends the search back to the position reached by then.
    env.control()
        .update_knobs(|k| k.search_page_cap = 250)
        .unwrap();
    for k in [1, 4] {
        let out = killed_and_resumed(&env, &spec, 4, k, |cp| {
            assert!(cp.0["pendingIds"].as_array().is_some_and(|a| !a.is_empty()));
            cp.0["token"] = "not-a-token".into();
        })
        .await;
        assert_eq!(
            String::from_utf8(out).unwrap(),
            String::from_utf8(reference.clone()).unwrap(),
            "parallel, killed after {k}"
        );
    }
    // The same with the pending issues edited after the kill (their `updated` now above the
    // run's upper bound) and slow bulk fetches, so the refusal comes back before them: they
    // are still written, each once, before the search goes back to the position.
    let expected = id_counts(&lines(&reference));
    env.control().update_knobs(|k| k.latency_ms = 40).unwrap();
    for k in [1, 4] {
        let journal = MemJournal::with(|j| j.fail_after = Some(k));
        env.run(&spec, None, None, None, 4, &journal)
            .await
            .unwrap_err();
        let mut last = journal.checkpoints().pop().unwrap();
        let pending: Vec<u64> = last.0["pendingIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert!(!pending.is_empty());
        last.0["token"] = "not-a-token".into();
        env.advance(30);
        for id in [pending[0], pending[pending.len() - 1]] {
            env.edit(&id.to_string(), &format!("after kill {k}")).await;
        }
        let resumed = MemJournal::continuing(&journal);
        let outcome = env
            .run(&spec, None, None, Some(&last), 4, &resumed)
            .await
            .unwrap();
        let mut out = resumed.output();
        out.extend_from_slice(&outcome.tail);
        let records = lines(&out);
        let got = id_counts(&records);
        let missing: Vec<_> = expected
            .keys()
            .filter(|id| !got.contains_key(*id))
            .collect();
        let doubled: Vec<_> = got.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            missing.is_empty() && doubled.is_empty() && got.len() == expected.len(),
            "edited, killed after {k}: missing {missing:?}, doubled {doubled:?}, pending {:?}..",
            &pending[..3]
        );
        let edited = records
            .iter()
            .filter(|r| r["fields"]["summary"] == format!("after kill {k}").as_str())
            .count();
        assert_eq!(edited, 2, "the edited pending issues in their new state");
        env.advance(30);
    }
    env.control()
        .update_knobs(|k| {
            k.search_page_cap = 0;
            k.latency_ms = 0;
        })
        .unwrap();
    // A run resumed with another concurrency cannot use the other mode's token either (the
    // issues as they are after the edits above).
    let (_, reference) = env.run_all(&spec, None, None, 1).await;
    let out = {
        let journal = MemJournal::with(|j| j.fail_after = Some(2));
        env.run(&spec, None, None, None, 1, &journal)
            .await
            .unwrap_err();
        let last = journal.checkpoints().pop().unwrap();
        let resumed = MemJournal::continuing(&journal);
        let outcome = env
            .run(&spec, None, None, Some(&last), 4, &resumed)
            .await
            .unwrap();
        let mut out = resumed.output();
        out.extend_from_slice(&outcome.tail);
        out
    };
    assert_eq!(lines(&out), lines(&reference));
}

#[tokio::test]
async fn a_run_dropped_mid_page_resumes_with_each_record_once_despite_writes() {
    let env = Env::start(medium()).await;
    // Id pages of 150 in parallel mode: the kills fall inside id pages.
    env.control()
        .update_knobs(|k| k.search_page_cap = 150)
        .unwrap();
    let spec = spec("project = MKT", Format::Ndjson);
    let (_, reference) = env.run_all(&spec, None, None, 1).await;
    let expected = id_counts(&lines(&reference));
    for (k, concurrency) in [(1, 1), (2, 1), (4, 1), (1, 4), (2, 4), (3, 4)] {
        let journal = MemJournal::default();
        {
            let run = env.run(&spec, None, None, None, concurrency, &journal);
            let mut run = std::pin::pin!(run);
            loop {
                if journal.checkpoints().len() >= k {
                    break;
                }
                match futures::poll!(run.as_mut()) {
                    Poll::Ready(r) => {
                        panic!("finished before being killed: {:?}", r.map(|o| o.stats))
                    }
                    Poll::Pending => tokio::task::yield_now().await,
                }
            }
            // Dropped here: the run stops wherever it was, like a killed process.
        }
        // Writes between the kill and the resume.
        env.advance(30);
        for n in 1..=5 {
            env.edit(&format!("MKT-{}", n * 40), &format!("after kill {k}"))
                .await;
        }
        let last = journal.checkpoints().pop().unwrap();
        let resumed = MemJournal::continuing(&journal);
        let outcome = env
            .run(&spec, None, None, Some(&last), concurrency, &resumed)
            .await
            .unwrap();
        let mut out = resumed.output();
        out.extend_from_slice(&outcome.tail);
        assert_eq!(
            id_counts(&lines(&out)),
            expected,
            "killed after {k} at concurrency {concurrency}"
        );
        env.advance(30);
    }
}
