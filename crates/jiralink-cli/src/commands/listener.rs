//! `jiralink listener …`: Jira's webhooks feeding a flow, their deliveries and their upkeep.
//!
//! An admin webhook's secret (Basic connections) is printed once, by `create`, on stdout only:
//! no other command can show it again.

use jiralink_app::{CreatedListener, ListenerDraft, ListenerEventView, ListenerView, format_time};

use crate::args::{ListenerCommand, OutputFormat};
use crate::commands::Ctx;
use crate::commands::export::confirm_delete;
use crate::exit::CliError;
use crate::output;

pub(crate) async fn run(ctx: &Ctx, command: ListenerCommand) -> Result<(), CliError> {
    match command {
        ListenerCommand::Create {
            name,
            flow,
            events,
            jql,
            field_ids,
        } => {
            let created = ctx
                .app
                .create_listener(ListenerDraft {
                    name,
                    flow,
                    events,
                    jql,
                    field_ids,
                })
                .await?;
            print_created(ctx, &created)
        }
        ListenerCommand::List => {
            let views = ctx.app.list_listeners().await?;
            match ctx.output {
                OutputFormat::Json => output::json(&views),
                OutputFormat::Table => {
                    let rows = views
                        .iter()
                        .map(|v| {
                            vec![
                                v.name.clone(),
                                v.flow_name.clone(),
                                v.connection_name.clone(),
                                v.mode.clone(),
                                v.state.clone(),
                                v.last_event_at
                                    .map_or_else(|| "never".to_owned(), format_time),
                                lag_text(v),
                            ]
                        })
                        .collect();
                    output::table(
                        &[
                            "NAME",
                            "FLOW",
                            "CONNECTION",
                            "MODE",
                            "STATE",
                            "LAST EVENT",
                            "LAG",
                        ],
                        rows,
                    );
                    Ok(())
                }
            }
        }
        ListenerCommand::Show { listener } => {
            let view = ctx.app.get_listener(&listener).await?;
            match ctx.output {
                OutputFormat::Json => output::json(&view),
                OutputFormat::Table => {
                    details(&view);
                    Ok(())
                }
            }
        }
        ListenerCommand::Events { listener, limit } => {
            if !(1..=500).contains(&limit) {
                return Err(CliError::Usage(
                    "--limit is a number from 1 to 500".to_owned(),
                ));
            }
            let events = ctx.app.listener_events(&listener, limit).await?;
            match ctx.output {
                OutputFormat::Json => output::json(&events),
                OutputFormat::Table => {
                    output::table(
                        &[
                            "RECEIVED", "EVENT", "ISSUES", "STATE", "FLOW RUN", "DELIVERY",
                        ],
                        events.iter().map(event_row).collect(),
                    );
                    Ok(())
                }
            }
        }
        ListenerCommand::Check { listener } => {
            let view = ctx.app.get_listener(&listener).await?;
            let report = ctx.app.check_listener(&view.id.to_string()).await?;
            match ctx.output {
                OutputFormat::Json => output::json(&report),
                OutputFormat::Table => {
                    outln!("Checked listener {:?}.", view.name);
                    let mut pairs = vec![
                        (
                            "Webhooks",
                            if report.refreshed {
                                "refreshed".to_owned()
                            } else {
                                "no refresh needed".to_owned()
                            },
                        ),
                        ("Recovered", report.recovered.to_string()),
                        (
                            "Safety net",
                            if report.safety_net_ran {
                                format!(
                                    "found {} missed change(s), deleted {} copy(ies) of \
                                     deleted issues",
                                    report.found, report.deleted
                                )
                            } else {
                                "did not look".to_owned()
                            },
                        ),
                        ("Forgotten", report.pruned.to_string()),
                    ];
                    for p in &report.problems {
                        pairs.push(("Problem", p.clone()));
                    }
                    output::details(&pairs);
                    Ok(())
                }
            }
        }
        ListenerCommand::Delete { listener, yes } => {
            let view = ctx.app.get_listener(&listener).await?;
            if !yes {
                let question = if view.mode == "dynamic" {
                    format!(
                        "Delete the listener {:?}, its webhooks on Jira and its stored events \
                         (the flow stays)?",
                        view.name
                    )
                } else {
                    format!(
                        "Delete the listener {:?} and its stored events (the flow stays; remove \
                         the admin webhook in Jira too)?",
                        view.name
                    )
                };
                confirm_delete(ctx, &view.name, &question)?;
            }
            ctx.app.delete_listener(&view.id.to_string()).await?;
            match ctx.output {
                OutputFormat::Json => output::json(&serde_json::json!({
                    "deleted": { "id": view.id, "name": view.name }
                })),
                OutputFormat::Table => {
                    outln!("Deleted listener {:?}.", view.name);
                    if view.mode == "admin" {
                        errln!(
                            "The admin webhook in Jira still calls {}; its deliveries are refused \
                             from now on. Ask a site administrator to delete it.",
                            view.url
                        );
                    }
                    Ok(())
                }
            }
        }
    }
}

/// The listener and, for an admin webhook, its secret: this once, on stdout.
fn print_created(ctx: &Ctx, created: &CreatedListener) -> Result<(), CliError> {
    let view = &created.view;
    match ctx.output {
        OutputFormat::Json => {
            // The secret goes into this one answer by hand: the view never carries it.
            let mut value = serde_json::to_value(view)
                .map_err(|e| CliError::Io(format!("could not format the result as JSON: {e}")))?;
            if let (Some(secret), Some(object)) = (&created.secret, value.as_object_mut()) {
                object.insert(
                    "secret".to_owned(),
                    serde_json::Value::String(secret.expose().to_owned()),
                );
            }
            output::json(&value)
        }
        OutputFormat::Table => {
            outln!(
                "Created listener {:?} for the flow {:?}.",
                view.name,
                view.flow_name
            );
            outln!("URL: {}", view.url);
            if let Some(secret) = &created.secret {
                outln!(
                    "Secret (shown only this once; it is not shown again — to change it, delete \
                     the listener and create it again):"
                );
                output::print_secret(secret.expose());
            }
            if view.mode == "dynamic" {
                let mut pairs = vec![("Webhooks", ids_text(&view.webhook_ids))];
                pairs.push((
                    "Expires",
                    view.expires_at.map_or_else(|| "-".to_owned(), format_time),
                ));
                output::details(&pairs);
                outln!(
                    "jiralink registered the webhooks with Jira; it refreshes them before they expire."
                );
            } else {
                outln!("Setup, for a Jira site administrator:");
                for (i, step) in view.setup_steps.iter().enumerate() {
                    outln!("  {}. {step}", i + 1);
                }
            }
            Ok(())
        }
    }
}

fn ids_text(ids: &[u64]) -> String {
    if ids.is_empty() {
        return "-".to_owned();
    }
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn lag_text(view: &ListenerView) -> String {
    if view.pending == 0 {
        return "-".to_owned();
    }
    let lag = format!("{}s, {} pending", view.lag_seconds, view.pending);
    if view.behind {
        format!("{lag} (behind)")
    } else {
        lag
    }
}

fn count_text(n: u64, at: Option<time::OffsetDateTime>) -> String {
    at.map_or_else(
        || "never".to_owned(),
        |t| format!("{n} at {}", format_time(t)),
    )
}

fn details(view: &ListenerView) {
    let net = &view.safety_net;
    let mut pairs = vec![
        ("Name", view.name.clone()),
        ("ID", view.id.to_string()),
        ("Flow", view.flow_name.clone()),
        ("Connection", view.connection_name.clone()),
        (
            "Mode",
            if view.mode == "dynamic" {
                "dynamic (jiralink registered Jira's webhooks)".to_owned()
            } else {
                "admin (a site administrator registers the webhook)".to_owned()
            },
        ),
        ("URL", view.url.clone()),
        ("Events", view.events.join(", ")),
        ("JQL", view.jql.clone().unwrap_or_else(|| "-".to_owned())),
        (
            "Effective JQL",
            view.effective_jql.clone().unwrap_or_else(|| "-".to_owned()),
        ),
        (
            "Field ids",
            if view.field_ids.is_empty() {
                "any change".to_owned()
            } else {
                view.field_ids.join(", ")
            },
        ),
        ("Webhooks", ids_text(&view.webhook_ids)),
        (
            "Expires",
            view.expires_at.map_or_else(|| "-".to_owned(), format_time),
        ),
        (
            "State",
            match &view.state_reason {
                Some(reason) => format!("{} ({reason})", view.state),
                None => view.state.clone(),
            },
        ),
        (
            "Last event",
            view.last_event_at
                .map_or_else(|| "never".to_owned(), format_time),
        ),
        (
            "Last processed",
            view.last_processed_at
                .map_or_else(|| "never".to_owned(), format_time),
        ),
        ("Received", view.received.to_string()),
        ("Pending", view.pending.to_string()),
        (
            "Lag",
            format!(
                "{}s{}",
                view.lag_seconds,
                if view.behind { " (behind)" } else { "" }
            ),
        ),
        ("Safety net", count_text(net.found, net.last_at)),
        ("Found in all", net.found_total.to_string()),
        ("Deleted (last look)", net.deleted.to_string()),
        ("Deleted in all", net.deleted_total.to_string()),
        ("Recovered", net.recovered_total.to_string()),
    ];
    if let Some(error) = &net.error {
        pairs.push(("Safety net error", error.clone()));
    }
    pairs.push(("Version", view.version.to_string()));
    pairs.push(("Created", format_time(view.created_at)));
    output::details(&pairs);
    if !view.setup_steps.is_empty() {
        outln!("Setup, for a Jira site administrator:");
        for (i, step) in view.setup_steps.iter().enumerate() {
            outln!("  {}. {step}", i + 1);
        }
    }
}

fn event_row(e: &ListenerEventView) -> Vec<String> {
    vec![
        format_time(e.received_at),
        e.event.clone(),
        e.issue_ids.join(", "),
        e.state.clone(),
        e.flow_run_id
            .map_or_else(|| "-".to_owned(), |id| id.to_string()),
        e.delivery_id.clone(),
    ]
}
