//! `jiralink export …`: saved exports and ad hoc ones.

use std::io::IsTerminal;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use jiralink_app::{
    AdfMode, ExportDraft, ExportKind, ExportSpec, ExportView, Format, Progress, Resource,
    RunOutput, RunStats, RunTrigger, RunView, Schedule, format_time,
};
use time::OffsetDateTime;

use crate::args::{
    AdhocIssues, AdhocOther, ExportCommand, ExportOptions, OutputFormat, ScheduleArgs, SpecArgs,
};
use crate::commands::Ctx;
use crate::commands::run::summary_line;
use crate::exit::CliError;
use crate::{output, prompt};

pub(crate) async fn run(
    ctx: &Ctx,
    command: ExportCommand,
    file: Option<PathBuf>,
) -> Result<(), CliError> {
    if file.is_some()
        && !matches!(
            command,
            ExportCommand::Run { .. } | ExportCommand::Issues(_)
        )
        && adhoc_other(&command).is_none()
    {
        return Err(no_file_here());
    }
    match command {
        ExportCommand::Create {
            name,
            connection,
            spec,
            schedule,
            disabled,
        } => {
            let mut built = base_spec(resource_of(spec.resource.as_deref())?);
            apply_spec(&mut built, &spec)?;
            let draft = ExportDraft {
                name,
                connection,
                spec: built,
                schedule: schedule_of(&schedule, None)?,
                enabled: !disabled,
            };
            let view = ctx.app.create_export(draft, &ctx.actor).await?;
            show(ctx, &view, "Saved")
        }
        ExportCommand::List => list(ctx).await,
        ExportCommand::Show { export } => {
            let view = ctx.app.get_export(&export).await?;
            show(ctx, &view, "")
        }
        ExportCommand::Edit {
            export,
            name,
            connection,
            spec,
            schedule,
            no_schedule,
            enable,
            disable,
        } => {
            let old = ctx.app.get_export(&export).await?;
            let mut built = old.spec.clone();
            if let Some(resource) = spec.resource.as_deref() {
                built.resource = resource_of(Some(resource))?;
            }
            apply_spec(&mut built, &spec)?;
            let (schedule, enabled) = edited_schedule(
                &schedule,
                no_schedule,
                (enable, disable),
                old.schedule.as_ref(),
                old.enabled,
            )?;
            let draft = ExportDraft {
                name: name.unwrap_or_else(|| old.name.clone()),
                connection: connection.unwrap_or_else(|| old.connection_id.to_string()),
                spec: built,
                schedule,
                enabled,
            };
            let view = ctx
                .app
                .update_export(&old.id.to_string(), draft, old.version, &ctx.actor)
                .await?;
            show(ctx, &view, "Saved")
        }
        ExportCommand::Delete { export, yes } => {
            let view = ctx.app.get_export(&export).await?;
            if !yes {
                confirm_delete(
                    ctx,
                    &view.name,
                    &format!(
                        "Delete the export {:?} with its run history and outputs?",
                        view.name
                    ),
                )?;
            }
            ctx.app
                .delete_export(&view.id.to_string(), &ctx.actor)
                .await?;
            match ctx.output {
                OutputFormat::Json => output::json(&serde_json::json!({
                    "deleted": { "id": view.id, "name": view.name }
                })),
                OutputFormat::Table => {
                    outln!("Deleted export {:?}.", view.name);
                    Ok(())
                }
            }
        }
        ExportCommand::Run { export, stdout } => {
            let output = sink(file, stdout)?;
            let bar = Bar::new(ctx, &output);
            let result = until_interrupted(
                &bar,
                "stopped without waiting for the run to end; it is resumed once its lease runs out",
                ctx.app
                    .run_export(&export, RunTrigger::Cli, output.clone(), &bar),
            )
            .await;
            bar.done();
            finish(ctx, &output, &result?)
        }
        ExportCommand::Issues(args) => adhoc_issues(ctx, args, file).await,
        other => {
            let Some((resource, args)) = adhoc_other(&other) else {
                return Ok(());
            };
            adhoc(ctx, resource, args.clone(), file).await
        }
    }
}

fn no_file_here() -> CliError {
    CliError::Usage(
        "--output takes table or json here; a file is only for `export run`, ad hoc exports and \
         `run output`"
            .to_owned(),
    )
}

/// Where the records go: the file, standard output, or only the database.
fn sink(file: Option<PathBuf>, stdout: bool) -> Result<RunOutput, CliError> {
    match (file, stdout) {
        (Some(_), true) => Err(CliError::Usage(
            "choose one: --output FILE or --stdout".to_owned(),
        )),
        (Some(path), false) => Ok(RunOutput::File(path)),
        (None, true) => Ok(RunOutput::Stdout),
        (None, false) => Ok(RunOutput::Store),
    }
}

/// The summary, after the run: on stderr when the records went to standard output.
fn finish(ctx: &Ctx, output: &RunOutput, run: &RunView) -> Result<(), CliError> {
    let to_stderr = *output == RunOutput::Stdout;
    match ctx.output {
        OutputFormat::Json => {
            let text = serde_json::to_string_pretty(run)
                .map_err(|e| CliError::Io(format!("could not format the result as JSON: {e}")))?;
            if to_stderr {
                output::print_json_err(&text);
            } else {
                output::print_json(&text);
            }
        }
        OutputFormat::Table => {
            let line = summary_line(run);
            let place = match output {
                RunOutput::File(path) => format!("; written to {}", path.display()),
                RunOutput::Store | RunOutput::Stdout => String::new(),
            };
            if to_stderr {
                errln!("{line}{place}");
            } else {
                outln!("{line}{place}");
                if run.output_available {
                    outln!("Download it with: jiralink run output {}", run.id);
                }
            }
        }
    }
    if run.state == jiralink_app::RunState::Cancelled {
        return Err(CliError::Cancelled("the run was cancelled".to_owned()));
    }
    Ok(())
}

async fn adhoc_issues(ctx: &Ctx, args: AdhocIssues, file: Option<PathBuf>) -> Result<(), CliError> {
    let mut spec = base_spec(Resource::Issues);
    apply_options(&mut spec, &args.options)?;
    spec.kind = adhoc_kind(args.options.delta_from.as_deref(), args.limit)?;
    let output = adhoc_sink(file, args.stdout)?;
    run_adhoc(ctx, &args.connection, spec, output).await
}

async fn adhoc(
    ctx: &Ctx,
    resource: Resource,
    args: AdhocOther,
    file: Option<PathBuf>,
) -> Result<(), CliError> {
    let mut spec = base_spec(resource);
    spec.jql = args.jql.clone();
    spec.service_desk = args.service_desk.clone();
    if let Some(format) = args.format.as_deref() {
        spec.format = format_of(format)?;
    }
    spec.kind = adhoc_kind(None, args.limit)?;
    let output = adhoc_sink(file, args.stdout)?;
    run_adhoc(ctx, &args.connection, spec, output).await
}

/// Ad hoc records go to standard output unless a file is named.
fn adhoc_sink(file: Option<PathBuf>, stdout: bool) -> Result<RunOutput, CliError> {
    match sink(file, stdout)? {
        RunOutput::Store => Ok(RunOutput::Stdout),
        other => Ok(other),
    }
}

async fn run_adhoc(
    ctx: &Ctx,
    connection: &str,
    spec: ExportSpec,
    output: RunOutput,
) -> Result<(), CliError> {
    let bar = Bar::new(ctx, &output);
    let result = until_interrupted(
        &bar,
        "stopped without waiting for the run to end; it is recorded as failed once its lease \
         runs out",
        ctx.app
            .run_adhoc_export(connection, spec, output.clone(), &bar),
    )
    .await;
    bar.done();
    finish(ctx, &output, &result?)
}

/// Runs an export to its end. A Ctrl-C meanwhile asks the run to stop after its current page
/// (through `bar`, which the run reads between pages): it ends cancelled, its output closed,
/// its lease given back, so the next `export run` starts afresh. A second Ctrl-C leaves
/// without waiting (`left` says what becomes of the run then).
async fn until_interrupted(
    bar: &Bar,
    left: &str,
    run: impl std::future::Future<Output = jiralink_app::AppResult<RunView>>,
) -> Result<RunView, CliError> {
    let mut run = std::pin::pin!(run);
    tokio::select! {
        result = &mut run => return Ok(result?),
        signal = tokio::signal::ctrl_c() => {
            if signal.is_err() {
                return Ok(run.await?);
            }
        }
    }
    bar.stop();
    tokio::select! {
        result = &mut run => Ok(result?),
        _ = tokio::signal::ctrl_c() => Err(CliError::Cancelled(left.to_owned())),
    }
}

fn adhoc_kind(delta_from: Option<&str>, limit: Option<u32>) -> Result<ExportKind, CliError> {
    match (delta_from, limit) {
        (Some(_), Some(_)) => Err(CliError::Usage(
            "choose one: --delta-from DATE or --limit N".to_owned(),
        )),
        (Some(date), None) => Ok(ExportKind::Delta {
            start: Some(parse_date(date)?),
        }),
        (None, Some(limit)) => Ok(ExportKind::Test { limit }),
        (None, None) => Ok(ExportKind::All),
    }
}

/// The resource and arguments of `export <resource>` for resources other than issues.
fn adhoc_other(command: &ExportCommand) -> Option<(Resource, &AdhocOther)> {
    let (resource, args) = match command {
        ExportCommand::Comments(a) => (Resource::Comments, a),
        ExportCommand::Worklogs(a) => (Resource::Worklogs, a),
        ExportCommand::Changelogs(a) => (Resource::Changelogs, a),
        ExportCommand::Projects(a) => (Resource::Projects, a),
        ExportCommand::Users(a) => (Resource::Users, a),
        ExportCommand::Fields(a) => (Resource::Fields, a),
        ExportCommand::Statuses(a) => (Resource::Statuses, a),
        ExportCommand::IssueTypes(a) => (Resource::IssueTypes, a),
        ExportCommand::Priorities(a) => (Resource::Priorities, a),
        ExportCommand::Resolutions(a) => (Resource::Resolutions, a),
        ExportCommand::ServiceDesks(a) => (Resource::ServiceDesks, a),
        ExportCommand::RequestTypes(a) => (Resource::RequestTypes, a),
        ExportCommand::CustomerRequests(a) => (Resource::CustomerRequests, a),
        ExportCommand::JsmCustomers(a) => (Resource::JsmCustomers, a),
        ExportCommand::JsmOrganizations(a) => (Resource::JsmOrganizations, a),
        ExportCommand::CsmCustomers(a) => (Resource::CsmCustomers, a),
        ExportCommand::CsmOrganizations(a) => (Resource::CsmOrganizations, a),
        ExportCommand::CsmProducts(a) => (Resource::CsmProducts, a),
        ExportCommand::CsmEntitlements(a) => (Resource::CsmEntitlements, a),
        _ => return None,
    };
    Some((resource, args))
}

fn resource_of(name: Option<&str>) -> Result<Resource, CliError> {
    match name {
        None => Ok(Resource::Issues),
        Some(name) => Resource::parse(name.trim()).ok_or_else(|| {
            CliError::Usage(format!(
                "--resource takes one of: {}",
                Resource::ALL
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }),
    }
}

fn format_of(name: &str) -> Result<Format, CliError> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|_| CliError::Usage("--format takes ndjson, json-array or csv".to_owned()))
}

fn adf_of(name: &str) -> Result<AdfMode, CliError> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|_| CliError::Usage("--adf takes raw, text or markdown".to_owned()))
}

/// An RFC 3339 time, or a date (midnight UTC).
fn parse_date(text: &str) -> Result<OffsetDateTime, CliError> {
    let text = text.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return Ok(t);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| {
            CliError::Usage(
                "--delta-from takes a date (2026-01-31, midnight UTC) or an RFC 3339 time \
                 (2026-01-31T08:00:00+01:00)"
                    .to_owned(),
            )
        })
}

/// The settings every export of `resource` starts from.
fn base_spec(resource: Resource) -> ExportSpec {
    ExportSpec::new(resource)
}

/// The options given, over `spec`.
fn apply_options(spec: &mut ExportSpec, options: &ExportOptions) -> Result<(), CliError> {
    if let Some(jql) = &options.jql {
        spec.jql = Some(jql.clone());
    }
    if !options.fields.is_empty() {
        spec.fields = trimmed(&options.fields);
    }
    if !options.expand.is_empty() {
        spec.expand = trimmed(&options.expand);
    }
    if let Some(format) = options.format.as_deref() {
        spec.format = format_of(format)?;
    }
    if let Some(adf) = options.adf.as_deref() {
        spec.adf = adf_of(adf)?;
    }
    if let Some(on) = options.full_changelog {
        spec.full_changelog = on;
    }
    if let Some(on) = options.comments {
        spec.comments = on;
    }
    if let Some(on) = options.worklogs {
        spec.worklogs = on;
    }
    if let Some(desk) = &options.service_desk {
        spec.service_desk = Some(desk.clone()).filter(|d| !d.trim().is_empty());
    }
    Ok(())
}

fn trimmed(values: &[String]) -> Vec<String> {
    values
        .iter()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The flags of `create` / `edit` over `spec`.
fn apply_spec(spec: &mut ExportSpec, args: &SpecArgs) -> Result<(), CliError> {
    apply_options(spec, &args.options)?;
    if let Some(on) = args.deletions {
        spec.deletions = on;
    }
    let start = args
        .options
        .delta_from
        .as_deref()
        .map(parse_date)
        .transpose()?;
    let kind = match args.kind.as_deref() {
        Some("all") => Some(ExportKind::All),
        Some("delta") => Some(ExportKind::Delta { start }),
        Some("test") => Some(ExportKind::Test {
            limit: args.limit.unwrap_or(10),
        }),
        Some(_) => {
            return Err(CliError::Usage(
                "--kind takes all, delta or test".to_owned(),
            ));
        }
        None => None,
    };
    match kind {
        Some(kind) => spec.kind = kind,
        None => {
            // --delta-from or --limit alone adjust the kind already chosen.
            match &mut spec.kind {
                ExportKind::Delta { start: s } if start.is_some() => *s = start,
                ExportKind::Test { limit } if args.limit.is_some() => {
                    *limit = args.limit.unwrap_or(*limit);
                }
                _ if start.is_some() => spec.kind = ExportKind::Delta { start },
                _ if args.limit.is_some() => {
                    spec.kind = ExportKind::Test {
                        limit: args.limit.unwrap_or(10),
                    };
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The schedule and the enabled switch of an edited definition: `--no-schedule` removes the
/// schedule, schedule flags replace it, none keep `current`; `--enable` / `--disable` switch
/// it, neither keeps `enabled`.
pub(crate) fn edited_schedule(
    args: &ScheduleArgs,
    no_schedule: bool,
    (enable, disable): (bool, bool),
    current: Option<&Schedule>,
    enabled: bool,
) -> Result<(Option<Schedule>, bool), CliError> {
    let schedule = if no_schedule {
        None
    } else {
        schedule_of(args, current)?
    };
    let enabled = if enable {
        true
    } else if disable {
        false
    } else {
        enabled
    };
    Ok((schedule, enabled))
}

/// The schedule the flags name; without flags, `current` (kept on `edit`).
pub(crate) fn schedule_of(
    args: &ScheduleArgs,
    current: Option<&Schedule>,
) -> Result<Option<Schedule>, CliError> {
    let zone = args
        .time_zone
        .clone()
        .or_else(|| current.map(|s| s.time_zone().to_owned()))
        .unwrap_or_else(|| "UTC".to_owned());
    Ok(match (&args.cron, args.every, current) {
        (Some(expr), _, _) => Some(Schedule::Cron {
            expr: expr.clone(),
            time_zone: zone,
        }),
        (None, Some(minutes), _) => Some(Schedule::Every {
            minutes,
            time_zone: zone,
        }),
        (None, None, Some(Schedule::Cron { expr, .. })) => Some(Schedule::Cron {
            expr: expr.clone(),
            time_zone: zone,
        }),
        (None, None, Some(Schedule::Every { minutes, .. })) => Some(Schedule::Every {
            minutes: *minutes,
            time_zone: zone,
        }),
        (None, None, None) => {
            if args.time_zone.is_some() {
                return Err(CliError::Usage(
                    "--time-zone goes with --cron EXPR or --every MINUTES".to_owned(),
                ));
            }
            None
        }
    })
}

async fn list(ctx: &Ctx) -> Result<(), CliError> {
    let views = ctx.app.list_exports().await?;
    match ctx.output {
        OutputFormat::Json => output::json(&views),
        OutputFormat::Table => {
            output::table(
                &[
                    "NAME",
                    "CONNECTION",
                    "RESOURCE",
                    "KIND",
                    "SCHEDULE",
                    "LAST RUN",
                    "NEXT RUN",
                ],
                views
                    .iter()
                    .map(|v| {
                        vec![
                            v.name.clone(),
                            connection_label(v),
                            v.spec.resource.as_str().to_owned(),
                            kind_label(&v.spec.kind),
                            schedule_label(v),
                            v.last_run.as_ref().map_or_else(
                                || "never".to_owned(),
                                |r| format!("{} {}", r.state.as_str(), format_time(r.started_at)),
                            ),
                            v.next_run_at.map_or_else(|| "-".to_owned(), format_time),
                        ]
                    })
                    .collect(),
            );
            Ok(())
        }
    }
}

fn connection_label(v: &ExportView) -> String {
    if v.connection_offline {
        format!("{} – Offline", v.connection_name)
    } else {
        v.connection_name.clone()
    }
}

fn kind_label(kind: &ExportKind) -> String {
    match kind {
        ExportKind::All => "all".to_owned(),
        ExportKind::Delta { start: None } => "delta".to_owned(),
        ExportKind::Delta { start: Some(t) } => format!("delta from {}", format_time(*t)),
        ExportKind::Test { limit } => format!("test ({limit})"),
    }
}

fn schedule_label(v: &ExportView) -> String {
    match (&v.schedule, v.enabled) {
        (None, _) => "-".to_owned(),
        (Some(s), true) => s.describe(),
        (Some(s), false) => format!("{} (disabled)", s.describe()),
    }
}

fn show(ctx: &Ctx, view: &ExportView, verb: &str) -> Result<(), CliError> {
    match ctx.output {
        OutputFormat::Json => output::json(view),
        OutputFormat::Table => {
            if !verb.is_empty() {
                outln!("{verb} export {:?}.", view.name);
            }
            let spec = &view.spec;
            let mut pairs = vec![
                ("Name", view.name.clone()),
                ("ID", view.id.to_string()),
                ("Connection", connection_label(view)),
                ("Resource", spec.resource.label().to_owned()),
                ("Kind", kind_label(&spec.kind)),
            ];
            if let Some(jql) = &spec.jql {
                pairs.push(("JQL", jql.clone()));
            }
            if !spec.fields.is_empty() {
                pairs.push(("Fields", spec.fields.join(", ")));
            }
            if !spec.expand.is_empty() {
                pairs.push(("Expand", spec.expand.join(", ")));
            }
            let extras: Vec<&str> = [
                (spec.full_changelog, "full changelog"),
                (spec.comments, "comments"),
                (spec.worklogs, "worklogs"),
                (spec.deletions, "deletions"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, label)| *label)
            .collect();
            if !extras.is_empty() {
                pairs.push(("With", extras.join(", ")));
            }
            pairs.push((
                "Format",
                serde_json::to_value(spec.format)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            ));
            pairs.push(("Schedule", schedule_label(view)));
            pairs.push((
                "Next run",
                view.next_run_at.map_or_else(|| "-".to_owned(), format_time),
            ));
            pairs.push((
                "Last run",
                view.last_run
                    .as_ref()
                    .map_or_else(|| "never".to_owned(), summary_line),
            ));
            pairs.push((
                "Cursor",
                view.cursor
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), ToString::to_string),
            ));
            pairs.push(("Version", view.version.to_string()));
            pairs.push(("Updated", format_time(view.updated_at)));
            output::details(&pairs);
            Ok(())
        }
    }
}

/// Asks before deleting `name`, in a terminal; without one, `--yes` must say so.
pub(crate) fn confirm_delete(ctx: &Ctx, name: &str, question: &str) -> Result<(), CliError> {
    if !ctx.interactive {
        return Err(CliError::Usage(format!(
            "deleting {name:?} needs confirmation; pass --yes to delete without a prompt"
        )));
    }
    if prompt::confirm(question)? {
        Ok(())
    } else {
        Err(CliError::Cancelled("nothing was deleted".to_owned()))
    }
}

/// The progress bar on a terminal (records, rate, time left from Jira's approximate count);
/// nothing otherwise.
pub(crate) struct Bar {
    bar: ProgressBar,
    /// Set by Ctrl-C; the run reads it between pages.
    stop: std::sync::atomic::AtomicBool,
}

impl Bar {
    pub(crate) fn new(ctx: &Ctx, output: &RunOutput) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        // A bar only for a person watching: stderr is a terminal and the records do not
        // share it.
        let shown = ctx.output == OutputFormat::Table
            && std::io::stderr().is_terminal()
            && !(*output == RunOutput::Stdout && std::io::stdout().is_terminal());
        if shown {
            bar.set_style(rate(
                ProgressStyle::with_template("{spinner} {pos} records  {rate}  {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ));
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
        } else {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        Self {
            bar,
            stop: false.into(),
        }
    }

    /// Asks the run to stop after its current page.
    pub(crate) fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) fn done(&self) {
        self.bar.finish_and_clear();
    }
}

/// `{rate}`: records per second, whole.
fn rate(style: ProgressStyle) -> ProgressStyle {
    style.with_key(
        "rate",
        |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0}/s", state.per_sec());
        },
    )
}

impl std::fmt::Debug for Bar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bar").finish_non_exhaustive()
    }
}

impl Progress for Bar {
    fn expected(&self, total: Option<u64>) {
        if let Some(total) = total {
            self.bar.set_length(total);
            self.bar.set_style(rate(
                ProgressStyle::with_template("{bar:30} {pos}/{len} records  {rate}  {eta} left")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ));
        }
    }

    fn advanced(&self, stats: &RunStats) {
        self.bar.set_position(stats.records.values().sum());
    }

    fn stop_requested(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl jiralink_app::ImportProgress for Bar {
    fn advanced(&self, stats: &jiralink_app::ImportStats) {
        self.bar.set_position(stats.read);
    }

    fn stop_requested(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::SeqCst)
    }
}
