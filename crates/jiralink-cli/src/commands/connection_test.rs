//! `jiralink connection test | debug | watch`, and the test before saving.

use jiralink_app::{
    ConnectionDraft, ConnectionId, ConnectionSecrets, DebugLog, TestOutcome, TestResult,
    WorkerOptions,
};

use crate::args::{DebugArgs, DebugCommand, OutputFormat, SaveTest};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::{output, prompt};

/// `connection test NAME`: prints the report; a failure is exit code 8.
pub(crate) async fn test(ctx: &Ctx, reference: &str) -> Result<(), CliError> {
    let outcome = ctx.app.test_connection(reference).await?;
    print_outcome(ctx, &outcome)?;
    result_of(&outcome)
}

fn result_of(outcome: &TestOutcome) -> Result<(), CliError> {
    match outcome.result {
        TestResult::Passed => Ok(()),
        TestResult::Failed => Err(CliError::TestFailed(format!(
            "the test of {:?} failed: {}",
            outcome.connection,
            outcome.summary()
        ))),
        TestResult::NeedsAuthorization => Err(CliError::NeedsAuthorization(format!(
            "{:?} cannot be tested yet: {}",
            outcome.connection,
            outcome.summary()
        ))),
    }
}

fn print_outcome(ctx: &Ctx, o: &TestOutcome) -> Result<(), CliError> {
    if ctx.output == OutputFormat::Json {
        return output::json(o);
    }
    let result = match (&o.result, &o.failure) {
        (TestResult::Passed, _) => "passed".to_owned(),
        (TestResult::Failed, Some(f)) => format!("failed ({})", f.kind.replace('_', " ")),
        (TestResult::Failed, None) => "failed".to_owned(),
        (TestResult::NeedsAuthorization, _) => "needs authorization".to_owned(),
    };
    let mut pairs: Vec<(&str, String)> = vec![
        ("Connection", o.connection.clone()),
        ("Result", result),
        (
            "Reachable",
            if o.reachable { "yes" } else { "no" }.to_owned(),
        ),
    ];
    if let Some(a) = &o.account {
        let mut who = a.display_name.clone().unwrap_or_else(|| "-".to_owned());
        if let Some(e) = &a.email {
            who.push_str(&format!(" <{e}>"));
        }
        pairs.push(("Authenticated as", who));
        pairs.push(("Account ID", a.account_id.clone()));
    }
    if let Some(s) = &o.site_url {
        pairs.push(("Site URL", s.clone()));
    }
    if let Some(c) = &o.cloud_id {
        pairs.push(("Cloud ID", c.clone()));
    }
    if !o.requested_scopes.is_empty() {
        pairs.push(("Scopes requested", o.requested_scopes.join(" ")));
        pairs.push(("Scopes granted", o.granted_scopes.join(" ")));
        if !o.missing_scopes.is_empty() {
            pairs.push(("Scopes missing", o.missing_scopes.join(" ")));
        }
    }
    if let Some(request) = o.probe {
        pairs.push(("Request", request.to_owned()));
    }
    if let Some(ms) = o.latency_ms {
        pairs.push(("Latency", format!("{ms} ms")));
    }
    if let Some(f) = &o.failure {
        if let Some(status) = f.http_status {
            pairs.push(("HTTP status", status.to_string()));
        }
        pairs.push(("Problem", f.message.clone()));
        pairs.push(("Fix", f.fix.clone()));
        if let Some(secs) = f.retry_after_secs {
            pairs.push(("Retry after", format!("{secs} s")));
        }
        if let Some(scope) = &f.missing_scope {
            pairs.push(("Missing scope", scope.clone()));
        }
    }
    if let Some(state) = &o.state {
        let text = match state {
            jiralink_app::ConnectionState::Untested => "not tested yet".to_owned(),
            jiralink_app::ConnectionState::Online => "online".to_owned(),
            jiralink_app::ConnectionState::Offline { reason } => format!("offline: {reason}"),
            jiralink_app::ConnectionState::NeedsAuthorization => "needs authorization".to_owned(),
        };
        pairs.push(("State", text));
    }
    pairs.push(("Tested", jiralink_app::format_time(o.tested_at)));
    output::details(&pairs);
    Ok(())
}

/// Whether the draft should be tested before saving, given the flags.
fn wants_test(test: SaveTest, draft: &ConnectionDraft) -> bool {
    if test.no_test {
        return false;
    }
    test.test || super::connection::auth_of(draft) == Some(jiralink_app::AuthType::Basic)
}

/// The test before saving. `Ok(None)`: not tested. `Ok(Some(outcome))`: save, then record
/// the outcome. A failed test is saved only with `--save-anyway` or a "yes" in a terminal.
pub(crate) async fn before_saving(
    ctx: &Ctx,
    draft: &ConnectionDraft,
    secrets: &ConnectionSecrets,
    editing: Option<ConnectionId>,
    test: SaveTest,
) -> Result<Option<TestOutcome>, CliError> {
    if !wants_test(test, draft) {
        return Ok(None);
    }
    let outcome = ctx.app.test_draft(draft, secrets, editing).await?;
    match outcome.result {
        TestResult::Passed => {
            errln!("Test passed: {}.", outcome.summary());
            Ok(Some(outcome))
        }
        TestResult::NeedsAuthorization => {
            errln!(
                "note: not tested: {}. It is saved; authorize it, then run `jiralink connection \
                 test`.",
                outcome.summary()
            );
            Ok(Some(outcome))
        }
        TestResult::Failed => {
            errln!("The connection test failed: {}", outcome.summary());
            if test.save_anyway {
                errln!("Saving anyway (--save-anyway).");
                return Ok(Some(outcome));
            }
            if !ctx.interactive {
                return Err(CliError::TestFailed(format!(
                    "the connection test failed, so nothing was saved: {}. Fix the settings, or \
                     pass --save-anyway to save it as it is (or --no-test to skip the test)",
                    outcome.summary()
                )));
            }
            if prompt::confirm("Save anyway?")? {
                Ok(Some(outcome))
            } else {
                Err(CliError::Cancelled("nothing was saved".to_owned()))
            }
        }
    }
}

pub(crate) async fn debug(ctx: &Ctx, args: DebugArgs) -> Result<(), CliError> {
    match args.command {
        Some(DebugCommand::Show { connection }) => {
            let log = ctx.app.debug_log(&connection).await?;
            print_log(ctx, &log)
        }
        Some(DebugCommand::Clear { connection }) => {
            let cleared = ctx.app.clear_debug_log(&connection).await?;
            match ctx.output {
                OutputFormat::Json => output::json(&serde_json::json!({ "cleared": cleared })),
                OutputFormat::Table => {
                    outln!("Cleared {cleared} debug line(s).");
                    Ok(())
                }
            }
        }
        Some(DebugCommand::Stop { connection }) => {
            let view = ctx.app.stop_debug(&connection).await?;
            match ctx.output {
                OutputFormat::Json => output::json(&view),
                OutputFormat::Table => {
                    outln!("The debugger of {:?} stopped recording.", view.name);
                    Ok(())
                }
            }
        }
        None => {
            let Some(connection) = args.connection else {
                return Err(CliError::Usage(
                    "name the connection to debug, e.g. `jiralink connection debug \"Jira\" \
                     --minutes 15`"
                        .to_owned(),
                ));
            };
            let minutes: u32 = args
                .minutes
                .parse()
                .map_err(|_| CliError::Usage("--minutes takes 15, 30, 45 or 60".to_owned()))?;
            let view = ctx.app.start_debug(&connection, minutes).await?;
            match ctx.output {
                OutputFormat::Json => output::json(&view),
                OutputFormat::Table => {
                    let until = view
                        .debug_until
                        .map_or_else(|| "-".to_owned(), jiralink_app::format_time);
                    outln!(
                        "Recording every request of {:?} until {until}, secrets masked. See them \
                         with `jiralink connection debug show {:?}`.",
                        view.name,
                        view.name
                    );
                    Ok(())
                }
            }
        }
    }
}

fn print_log(ctx: &Ctx, log: &DebugLog) -> Result<(), CliError> {
    if ctx.output == OutputFormat::Json {
        return output::json(log);
    }
    if log.recording {
        let until = log
            .debug_until
            .map_or_else(|| "-".to_owned(), jiralink_app::format_time);
        errln!("Recording until {until}.");
    }
    if log.lines.is_empty() {
        errln!(
            "No requests recorded for {:?} in the last 24 hours. Start recording with `jiralink \
             connection debug {:?} --minutes 15`.",
            log.connection,
            log.connection
        );
        return Ok(());
    }
    for line in &log.lines {
        let id: String = line.request_id.chars().take(8).collect();
        let time = jiralink_app::format_time(line.at);
        match line.direction {
            jiralink_app::DebugDirection::Request => {
                outln!("{time}  {id}  -> {} {}", line.method, line.url);
            }
            jiralink_app::DebugDirection::Response => {
                let status = line
                    .status
                    .map_or_else(|| "no response".to_owned(), |s| s.to_string());
                let ms = line.duration_ms.unwrap_or(0);
                outln!(
                    "{time}  {id}  <- {status} ({ms} ms) {} {}",
                    line.method,
                    line.url
                );
            }
        }
        for (name, value) in &line.headers {
            outln!("    {name}: {value}");
        }
        if let Some(body) = line.body.as_deref().filter(|b| !b.is_empty()) {
            outln!("    body: {body}");
        }
    }
    Ok(())
}

fn print_run(ctx: &Ctx, run: &jiralink_app::JobRun) {
    match ctx.output {
        OutputFormat::Json => outln!(
            "{}",
            serde_json::json!({
                "job": run.kind,
                "outcome": run.outcome,
                "detail": run.detail,
            })
        ),
        OutputFormat::Table => outln!(
            "{}: {} ({})",
            run.kind,
            run.outcome.as_str(),
            run.detail.as_deref().unwrap_or("")
        ),
    }
}

fn print_round(ctx: &Ctx, outcomes: &[TestOutcome]) {
    match ctx.output {
        OutputFormat::Json => {
            // One JSON document per round and line, so a long-running watch can be piped.
            let line = serde_json::to_string(outcomes).unwrap_or_else(|_| "[]".to_owned());
            outln!("{line}");
        }
        OutputFormat::Table => {
            if outcomes.is_empty() {
                errln!("No connection is offline.");
            }
            for o in outcomes {
                let verdict = if o.passed() {
                    "back online"
                } else {
                    "still offline"
                };
                outln!("{:?}: {verdict} ({})", o.connection, o.summary());
            }
        }
    }
}

pub(crate) async fn watch(
    ctx: &Ctx,
    interval: Option<jiralink_app::Interval>,
    once: bool,
) -> Result<(), CliError> {
    if once {
        let outcomes = ctx.app.retest_offline_connections().await?;
        ctx.app.keep_grants_alive().await?;
        print_round(ctx, &outcomes);
        return Ok(());
    }
    let mut options = WorkerOptions::from_config(ctx.app.config());
    if let Some(interval) = interval {
        options.retest_interval = interval.get();
    }
    let interval = jiralink_app::Interval::try_from(options.retest_interval).map_or_else(
        |_| format!("{:?}", options.retest_interval),
        |i| i.to_string(),
    );
    errln!(
        "Running the background jobs: offline connections are tested again every {interval} \
         (by this process or any server on the same database). Ctrl-C stops."
    );
    let shutdown = async {
        // Without a signal handler the loop runs until the process is killed, which is fine.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let mut report = |run: &jiralink_app::JobRun| print_run(ctx, run);
    ctx.app.run_worker(&options, shutdown, &mut report).await;
    Ok(())
}
