//! `jiralink key …`

use indicatif::{ProgressBar, ProgressStyle};
use jiralink_app::AppError;

use crate::args::{KeyCommand, OutputFormat};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::output;

pub(crate) async fn run(ctx: &Ctx, command: KeyCommand) -> Result<(), CliError> {
    match command {
        KeyCommand::Rotate { new_key_file } => {
            let bar = ProgressBar::new(0);
            if ctx.output == OutputFormat::Table {
                bar.set_style(
                    ProgressStyle::with_template("re-encrypting secrets {bar:30} {pos}/{len}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
            } else {
                bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            let report = ctx
                .app
                .rotate_key(new_key_file.as_deref(), &ctx.actor, &|done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                })
                .await;
            bar.finish_and_clear();
            let report = match report {
                Ok(report) => report,
                Err(e) => {
                    if ctx.output == OutputFormat::Table
                        && matches!(e, AppError::Config(_) | AppError::Io(_))
                    {
                        // Printed before the error line: the error's own hints follow it.
                        errln!(
                            "hint: `jiralink key rotate` again finishes an interrupted rotation; \
                             with a key from the environment, `--new-key-file PATH` names the \
                             file for the new key"
                        );
                    }
                    return Err(e.into());
                }
            };
            match ctx.output {
                OutputFormat::Json => output::json(&report)?,
                OutputFormat::Table => {
                    outln!(
                        "Re-encrypted {} secret(s) under master key {} ({} already were).",
                        report.resealed,
                        report.to_key_id,
                        report.already_done
                    );
                    outln!(
                        "The master key is in {}. Back it up now.",
                        report.key_file.display()
                    );
                }
            }
            if let Some(steps) = &report.next_steps {
                errln!("note: {steps}");
            }
            Ok(())
        }
        KeyCommand::Status { check } => {
            let counts = ctx
                .app
                .store()
                .count_secrets_by_key()
                .await
                .map_err(jiralink_app::AppError::from)?;
            let mut status = serde_json::json!({
                "activeKeyId": ctx.app.active_key_id(),
                "pendingKeyId": ctx.app.pending_key_id(),
                "source": ctx.app.key_origin(),
                "secretsByKey": counts
                    .iter()
                    .map(|(k, n)| serde_json::json!({"keyId": k.to_string(), "secrets": n}))
                    .collect::<Vec<_>>(),
            });
            let mut unreadable = Vec::new();
            if check {
                let found = ctx.app.check_secrets().await?;
                status["check"] = serde_json::json!({
                    "opened": found.opened,
                    "unreadable": found.unreadable.iter().map(|u| &u.what).collect::<Vec<_>>(),
                });
                unreadable = found.unreadable;
            }
            match ctx.output {
                OutputFormat::Json => output::json(&status)?,
                OutputFormat::Table => output::tree(&status),
            }
            if let Some(first) = unreadable.into_iter().next() {
                return Err(AppError::SecretUnreadable {
                    what: first.what,
                    owner: first.owner,
                }
                .into());
            }
            Ok(())
        }
    }
}
