//! Exports and imports through the application while the simulator injects faults at a seeded
//! random rate, one kind at a time and all together: nothing lost, nothing twice, every
//! `Retry-After` waited out, attempts within the retry caps. Prints one table of figures.
//!
//! Each scenario gets a fresh simulator and application. The application's clock is the
//! simulator's ([`SimTime`]): the simulator stands still unless the application sleeps on it,
//! so retry waits cost no real time, and the simulator measures on its own clock how long the
//! application waited before sending a request again (`jiralink_sim::retry_watch`). Both
//! connections run at concurrency level 1, so between an answer and its retry nothing else of
//! the application sleeps: each wait the simulator measures is that retry's own.
//!
//! Short by default (5,000 issues exported, 1,000 records imported); `JIRALINK_PROOF_LONG=1`
//! exports 100,000 and imports 10,000. `JIRALINK_PROOF_SEED` changes the fault pattern (7 by
//! default); `JIRALINK_PROOF_SCENARIOS=429,mix` runs only those scenarios (and the baseline).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use jiralink_app::{
    App, ConnectionSecrets, ExportSpec, ImportRequest, ImportSource, ImportSpec, InputFormat,
    NoImportProgress, NoProgress, Resource, ResultsFormat, RunOutput, RunState, RunTrigger,
};
use jiralink_domain::{Clock, ConnectionDraft, Sleep};
use jiralink_sim::knobs::{BurstLimits, ChaosKnobs};
use jiralink_sim::retry_watch::RetryReport;
use jiralink_sim::{Control, Knobs, Sim, SimConfig};
use jiralink_vault::ApiToken;
use time::OffsetDateTime;

use crate::{actor, basic_draft};

/// The simulator's clock as the application's: `sleep` moves the simulator's time on by the
/// wait and returns, so waiting is the only way the application makes simulated time pass.
#[derive(Debug, Clone)]
struct SimTime(Control);

impl Clock for SimTime {
    fn now(&self) -> OffsetDateTime {
        self.0.now()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        self.0.advance(duration);
        Box::pin(std::future::ready(()))
    }
}

/// How much is exported and imported.
#[derive(Debug, Clone, Copy)]
struct Size {
    issues: u64,
    records: u64,
}

fn size() -> Size {
    if std::env::var("JIRALINK_PROOF_LONG").is_ok_and(|v| v == "1") {
        Size {
            issues: 100_000,
            records: 10_000,
        }
    } else {
        Size {
            issues: 5_000,
            records: 1_000,
        }
    }
}

fn seed() -> u64 {
    std::env::var("JIRALINK_PROOF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7)
}

/// One kind of fault (or none, or all), and how the simulator injects it.
#[derive(Debug, Clone)]
struct Scenario {
    name: &'static str,
    chaos: ChaosKnobs,
    lose_rate: f64,
    index_lag_secs: u64,
}

/// The share of requests a fault kind hits when it runs alone, and of all of them together.
const SHARE: f64 = 0.2;

/// Seconds the simulator's search lags behind writes where a scenario says so; the imports
/// allow for [`SEARCH_LAG_SECS`].
const INDEX_LAG_SECS: u64 = 20;
const SEARCH_LAG_SECS: u64 = 30;

fn scenarios() -> Vec<Scenario> {
    let none = ChaosKnobs::default();
    let with = |f: fn(&mut ChaosKnobs)| {
        let mut c = ChaosKnobs {
            no_retry_after_share: 0.25,
            ..ChaosKnobs::default()
        };
        f(&mut c);
        c
    };
    let plain = |name, chaos| Scenario {
        name,
        chaos,
        lose_rate: 0.0,
        index_lag_secs: 0,
    };
    vec![
        plain("baseline", none.clone()),
        plain("429", with(|c| c.rate_limited_share = SHARE)),
        plain("503", with(|c| c.unavailable_share = SHARE)),
        plain("500/502/504", with(|c| c.server_error_share = SHARE)),
        plain("reset", with(|c| c.reset_share = SHARE)),
        plain("cut answer", with(|c| c.cut_share = SHARE)),
        plain("latency spike", with(|c| c.spike_share = SHARE)),
        Scenario {
            name: "lost write answer",
            chaos: none.clone(),
            lose_rate: SHARE,
            index_lag_secs: 0,
        },
        Scenario {
            name: "lost answer + search lag",
            chaos: none,
            lose_rate: SHARE,
            index_lag_secs: INDEX_LAG_SECS,
        },
        Scenario {
            name: "mix",
            chaos: with(|c| {
                c.rate_limited_share = 0.06;
                c.unavailable_share = 0.03;
                c.server_error_share = 0.04;
                c.reset_share = 0.02;
                c.cut_share = 0.02;
                c.spike_share = 0.03;
            }),
            lose_rate: 0.03,
            index_lag_secs: INDEX_LAG_SECS,
        },
    ]
}

/// What one phase (the export, or the import) of a scenario did and what came of it.
#[derive(Debug, Default, Clone)]
struct Figures {
    injected: BTreeMap<String, u64>,
    report: RetryReport,
    wall: Duration,
    simulated: Duration,
    /// Expected records missing downstream.
    lost: u64,
    /// Records present more than once downstream.
    duplicated: u64,
    /// Records without a per-record result (imports).
    unaccounted: u64,
    /// The run's own counts, as the application recorded them.
    stats: String,
    /// Why the run did not succeed, if it did not.
    error: Option<String>,
    /// Runs that failed after a read used up its attempts, before the one that counts.
    gave_up: Vec<String>,
}

impl Figures {
    fn injected_total(&self) -> u64 {
        self.injected.values().sum()
    }
}

struct Outcome {
    name: &'static str,
    export: Figures,
    import: Figures,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_and_imports_lose_and_repeat_nothing_under_every_fault_kind() {
    let size = size();
    let seed = seed();
    // The connections' own policy (rate-limit handling left at its default).
    let read_cap =
        jiralink_app::retry_policy(jiralink_domain::RateLimitHandling::default()).max_retries + 1;
    let write_cap = jiralink_sync::import::SEND_ATTEMPTS * jiralink_sync::import::SEND_ATTEMPTS;
    let wanted = std::env::var("JIRALINK_PROOF_SCENARIOS").ok();
    // A name that is no scenario would leave only the baseline to run, and pass.
    if let Some(w) = &wanted {
        let names: Vec<&str> = scenarios().iter().map(|s| s.name).collect();
        for name in w.split(',').map(str::trim) {
            assert!(
                names.contains(&name),
                "JIRALINK_PROOF_SCENARIOS names {name:?}, which is none of {names:?}"
            );
        }
    }
    let chosen: Vec<Scenario> = scenarios()
        .into_iter()
        .filter(|s| {
            s.name == "baseline"
                || wanted
                    .as_deref()
                    .is_none_or(|w| w.split(',').any(|n| n.trim() == s.name))
        })
        .collect();
    // Rows are printed as scenarios finish, so a long run shows its figures as it goes.
    println!("{}", table_head(size, seed, read_cap, write_cap));
    let mut outcomes: Vec<Outcome> = Vec::new();
    for scenario in chosen {
        let outcome = run_scenario(&scenario, size, seed, read_cap).await;
        println!("{}", table_rows(&outcome, outcomes.first()));
        outcomes.push(outcome);
    }
    let table = outcomes
        .iter()
        .map(|o| table_rows(o, outcomes.first()))
        .collect::<Vec<_>>()
        .join("\n");
    let mut problems = Vec::new();
    for o in &outcomes {
        for (phase, f) in [("export", &o.export), ("import", &o.import)] {
            let mut say = |what: String| problems.push(format!("{} / {phase}: {what}", o.name));
            if let Some(e) = &f.error {
                say(format!("the run failed: {e}"));
            }
            if f.lost > 0 {
                say(format!("{} records lost", f.lost));
            }
            if f.duplicated > 0 {
                say(format!("{} records duplicated", f.duplicated));
            }
            if f.unaccounted > 0 {
                say(format!("{} records without a result", f.unaccounted));
            }
            if f.report.early > 0 {
                say(format!(
                    "{} retries sooner than Retry-After: {:?}",
                    f.report.early, f.report.early_examples
                ));
            }
            if f.report.max_attempts_read > read_cap {
                say(format!(
                    "a read took {} attempts (cap {read_cap})",
                    f.report.max_attempts_read
                ));
            }
            if f.report.max_attempts_write > write_cap {
                say(format!(
                    "a write took {} attempts (cap {write_cap})",
                    f.report.max_attempts_write
                ));
            }
        }
        let faulty = o.name != "baseline";
        let injected = o.export.injected_total() + o.import.injected_total();
        if faulty && injected == 0 {
            problems.push(format!("{}: no fault was injected", o.name));
        }
        if !faulty && injected > 0 {
            problems.push(format!("baseline: {injected} faults injected"));
        }
    }
    assert!(
        problems.is_empty(),
        "seed {seed}:\n{}\n{table}",
        problems.join("\n")
    );
}

async fn run_scenario(scenario: &Scenario, size: Size, seed: u64, read_cap: u32) -> Outcome {
    let sim = Sim::start(SimConfig {
        seed,
        knobs: Knobs {
            // Only the faults under test: no burst limit, quota or per-issue limit of their own.
            burst: BurstLimits::uniform(0),
            quota_points_per_hour: None,
            per_issue_writes_per_2s: 0,
            per_issue_writes_per_30s: 0,
            ..Knobs::default()
        },
        ..SimConfig::for_tests()
    })
    .await
    .unwrap();
    let control = sim.control();
    let demo = jiralink_sim::data::site_by_subdomain(control.state(), "demo").unwrap();
    demo.replace(jiralink_sim::data::generate_site(
        control.state(),
        "demo",
        Some(size.issues),
    ));
    let expected: BTreeSet<u64> = demo.read().issue_ids().collect();
    assert_eq!(expected.len() as u64, size.issues);
    // After every generated issue's last update, so the export's upper bound covers them all.
    control.advance(Duration::from_secs(86_400));

    let clock: Arc<dyn Clock> = Arc::new(SimTime(control.clone()));
    let (_dir, app) = crate::exports::app_with_clock(&sim, clock, None).await;
    for (name, subdomain) in [("Demo", "demo"), ("Acme", "acme")] {
        app.create_connection(
            &ConnectionDraft {
                subdomain: Some(subdomain.to_owned()),
                username: Some(sim.samples().email.clone()),
                concurrency_level: Some("1".to_owned()),
                ..basic_draft(name)
            },
            ConnectionSecrets {
                api_token: Some(ApiToken::new(&sim.samples().api_token)),
            },
            &actor(),
        )
        .await
        .unwrap();
    }
    control
        .update_knobs(|k| {
            k.chaos = scenario.chaos.clone();
            k.lose_rate = scenario.lose_rate;
            k.index_lag_secs = scenario.index_lag_secs;
        })
        .unwrap();

    control.clear_fault_records();
    let export = export_phase(&app, &control, &expected, read_cap).await;
    control.clear_fault_records();
    let import = import_phase(&app, &control, size.records, SEARCH_LAG_SECS).await;
    sim.shutdown().await;
    Outcome {
        name: scenario.name,
        export,
        import,
    }
}

/// Runs one measured phase: the wall and simulated time it took and what the simulator saw.
async fn measured<F: std::future::Future<Output = Figures>>(control: &Control, run: F) -> Figures {
    let (wall, at) = (Instant::now(), control.now());
    let mut figures = run.await;
    figures.wall = wall.elapsed();
    figures.simulated = Duration::try_from(control.now() - at).unwrap_or_default();
    figures.injected = control.injected_faults();
    figures.report = control.retry_report();
    figures
}

/// Runs an export may take: a run that failed because a read used up its attempts (the
/// simulator saw one reach the cap) is run again, as its user or schedule would.
const EXPORT_RUNS: u32 = 3;

/// Exports every issue of `demo` into the store and reads the output back.
async fn export_phase(
    app: &App,
    control: &Control,
    expected: &BTreeSet<u64>,
    read_cap: u32,
) -> Figures {
    measured(control, async {
        let mut f = Figures::default();
        for _ in 0..EXPORT_RUNS {
            let run = app
                .run_adhoc_export(
                    "Demo",
                    ExportSpec::new(Resource::Issues),
                    RunOutput::Store,
                    &NoProgress,
                )
                .await;
            let failure = match run {
                Ok(run) if run.state == RunState::Succeeded => {
                    f.stats = format!(
                        "{} pages, {} requests, {} retries, {} rate-limit waits",
                        run.stats.pages,
                        run.stats.requests,
                        run.stats.retries,
                        run.stats.rate_limit_waits
                    );
                    let mut counts: HashMap<u64, u64> = HashMap::new();
                    for id in exported_ids(app, &run.id.to_string()).await {
                        *counts.entry(id).or_insert(0) += 1;
                    }
                    f.lost = expected
                        .iter()
                        .filter(|id| !counts.contains_key(id))
                        .count() as u64;
                    // An issue that does not exist is as wrong as a missing one.
                    f.lost += counts.keys().filter(|id| !expected.contains(id)).count() as u64;
                    f.duplicated = counts.values().filter(|n| **n > 1).count() as u64;
                    f.error = None;
                    return f;
                }
                Ok(run) => format!("{:?}: {}", run.state, run.error.unwrap_or_default()),
                Err(e) => e.to_string(),
            };
            f.lost = expected.len() as u64;
            f.error = Some(failure.clone());
            if control.retry_report().max_attempts_read < read_cap {
                return f;
            }
            f.gave_up.push(failure);
        }
        f
    })
    .await
}

/// The `id` of every line of an NDJSON export's output, in order.
async fn exported_ids(app: &App, run: &str) -> Vec<u64> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: String,
    }
    let mut ids = Vec::new();
    let mut rest: Vec<u8> = Vec::new();
    let mut stream = std::pin::pin!(app.run_output(run).await.unwrap());
    while let Some(chunk) = stream.next().await {
        rest.extend_from_slice(&chunk.unwrap());
        let mut start = 0;
        while let Some(end) = rest[start..].iter().position(|b| *b == b'\n') {
            let line = &rest[start..start + end];
            let issue: IdOnly = serde_json::from_slice(line).unwrap();
            ids.push(issue.id.parse().unwrap());
            start += end + 1;
        }
        rest.drain(..start);
    }
    assert!(rest.is_empty(), "the output ends without a line break");
    ids
}

const MAPPING: &str = r#"
operation = "create"
project = "MKT"
issue_type = "Task"
[external_id]
source = "ref"
label_prefix = "ext-"
[fields]
summary = "title"
"#;

/// Imports `records` records into `acme`, allowing `search_lag_secs` for Jira's search, and
/// checks them against the simulator's issues.
async fn import_phase(app: &App, control: &Control, records: u64, search_lag_secs: u64) -> Figures {
    let mut csv = String::from("ref,title\n");
    for i in 0..records {
        csv.push_str(&format!("r{i},Record {i}\n"));
    }
    measured(control, async {
        let run = app
            .run_adhoc_import(
                ImportRequest {
                    connection: "Acme".to_owned(),
                    spec: ImportSpec {
                        mapping: MAPPING.to_owned(),
                        format: Some(InputFormat::Csv),
                        results_format: ResultsFormat::Ndjson,
                        ledger: None,
                        search_lag_secs: Some(search_lag_secs),
                        input: None,
                    },
                    source: ImportSource::Bytes {
                        name: "records.csv".to_owned(),
                        data: csv.into_bytes(),
                    },
                    results: RunOutput::Store,
                    dry_run: false,
                    trigger: RunTrigger::Cli,
                    attachment_dir: None,
                },
                &NoImportProgress,
            )
            .await;
        let mut f = Figures::default();
        match run {
            Ok(view) => {
                let s = &view.stats;
                f.stats = format!(
                    "{} created, {} failed, {} bulk requests, {} uncertain checked, {} found, \
                     {} rate-limit waits",
                    s.created,
                    s.failed,
                    s.bulk_requests,
                    s.uncertain_checked,
                    s.uncertain_found,
                    s.rate_limit_waits
                );
                if view.state != RunState::Succeeded {
                    f.error = Some(format!("{:?}: {:?}", view.state, view.error));
                }
                if let Some(id) = view.id {
                    let results = crate::imports::results_of(app, &id.to_string()).await;
                    let mut per_record: HashMap<u64, u64> = HashMap::new();
                    for r in &results {
                        let at = r["record"].as_u64().unwrap();
                        *per_record.entry(at).or_insert(0) += 1;
                        if r["state"] != "created" {
                            f.error
                                .get_or_insert_with(|| format!("a record's result: {r}"));
                        }
                    }
                    f.unaccounted =
                        (0..records).filter(|i| !per_record.contains_key(i)).count() as u64;
                    f.duplicated += per_record.values().filter(|n| **n > 1).count() as u64;
                }
            }
            Err(e) => f.error = Some(e.to_string()),
        }
        // Whatever the run says: the issues on the site, by the external id in their label.
        let acme = jiralink_sim::data::site_by_subdomain(control.state(), "acme").unwrap();
        let data = acme.read();
        let mut per_ref: HashMap<String, u64> = HashMap::new();
        for id in data.issue_ids() {
            let issue = data.issue_by_id(id).unwrap();
            for label in &issue.labels {
                if let Some(r) = label.strip_prefix("ext-") {
                    *per_ref.entry(r.to_owned()).or_insert(0) += 1;
                }
            }
        }
        f.lost = (0..records)
            .filter(|i| !per_ref.contains_key(&format!("r{i}")))
            .count() as u64;
        f.duplicated += per_ref.values().filter(|n| **n > 1).count() as u64;
        f
    })
    .await
}

fn table_head(size: Size, seed: u64, read_cap: u32, write_cap: u32) -> String {
    let mut out = format!(
        "\nFault proof: export {} issues, import {} records; seed {seed}; each kind at {:.0} % \
         of requests (the mix: 20 % in all); caps: {read_cap} attempts per read, {write_cap} \
         per bulk create\n\n",
        size.issues,
        size.records,
        SHARE * 100.0
    );
    out.push_str(
        "| Scenario | Phase | Faults injected | Requests | Extra vs baseline | Retries | \
         Max attempts read / write | Retry-After given / came again / early | Tightest wait vs \
         Retry-After | Simulated s | Wall s | Wall ratio | Lost | Duplicated | Run |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    out
}

/// The two rows (export, import) of one scenario, compared with the baseline's.
fn table_rows(o: &Outcome, baseline: Option<&Outcome>) -> String {
    let mut rows = Vec::new();
    for (phase, f) in [("export", &o.export), ("import", &o.import)] {
        let base = baseline.map(|b| {
            if phase == "export" {
                &b.export
            } else {
                &b.import
            }
        });
        let extra = base.map_or("—".to_owned(), |b| {
            let n = f.report.requests as i64 - b.report.requests as i64;
            format!(
                "{n:+} ({:.2}×)",
                f.report.requests as f64 / b.report.requests.max(1) as f64
            )
        });
        let ratio = base.map_or("—".to_owned(), |b| {
            format!(
                "{:.2}",
                f.wall.as_secs_f64() / b.wall.as_secs_f64().max(1e-9)
            )
        });
        let injected = if f.injected.is_empty() {
            "0".to_owned()
        } else {
            let kinds: Vec<String> = f
                .injected
                .iter()
                .map(|(k, n)| format!("{k}: {n}"))
                .collect();
            format!("{} ({})", f.injected_total(), kinds.join(", "))
        };
        let tightest = f.report.tightest.map_or("—".to_owned(), |t| {
            format!(
                "{:.3} s after {} s",
                t.waited_ms as f64 / 1000.0,
                t.retry_after_secs
            )
        });
        let mut run = match &f.error {
            Some(e) => format!("FAILED: {e}"),
            None => f.stats.clone(),
        };
        for (n, e) in f.gave_up.iter().enumerate() {
            run.push_str(&format!("; run {} gave up after the cap: {e}", n + 1));
        }
        rows.push(format!(
            "| {} | {phase} | {injected} | {} | {extra} | {} | {} / {} | {} / {} / {} | \
             {tightest} | {:.0} | {:.2} | {ratio} | {} | {} | {run} |",
            o.name,
            f.report.requests,
            f.report.retries,
            f.report.max_attempts_read,
            f.report.max_attempts_write,
            f.report.told_to_wait,
            f.report.came_again,
            f.report.early,
            f.simulated.as_secs_f64(),
            f.wall.as_secs_f64(),
            f.lost,
            f.duplicated,
        ));
    }
    rows.join("\n")
}

/// The check above can fail: an import told that Jira's search keeps up at once, while the
/// simulator's lags [`INDEX_LAG_SECS`] behind and loses answers, looks for its lost creates
/// too early, does not find them and creates them again, and the count per external id shows
/// it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_that_searches_before_the_index_caught_up_is_caught_duplicating() {
    let sim = Sim::start(SimConfig {
        seed: seed(),
        knobs: Knobs {
            burst: BurstLimits::uniform(0),
            quota_points_per_hour: None,
            ..Knobs::default()
        },
        ..SimConfig::for_tests()
    })
    .await
    .unwrap();
    let control = sim.control();
    let clock: Arc<dyn Clock> = Arc::new(SimTime(control.clone()));
    let (_dir, app) = crate::exports::app_with_clock(&sim, clock, None).await;
    app.create_connection(
        &ConnectionDraft {
            subdomain: Some("acme".to_owned()),
            username: Some(sim.samples().email.clone()),
            concurrency_level: Some("1".to_owned()),
            ..basic_draft("Acme")
        },
        ConnectionSecrets {
            api_token: Some(ApiToken::new(&sim.samples().api_token)),
        },
        &actor(),
    )
    .await
    .unwrap();
    control
        .update_knobs(|k| {
            k.lose_rate = 0.5;
            k.index_lag_secs = INDEX_LAG_SECS;
        })
        .unwrap();
    let f = import_phase(&app, &control, 400, 0).await;
    assert!(f.duplicated > 0, "{f:?}");
    sim.shutdown().await;
}
