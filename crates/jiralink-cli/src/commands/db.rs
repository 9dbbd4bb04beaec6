//! `jiralink db …`: the database, its schema, and copying it. Needs no master key.

use std::path::Path;

use jiralink_app::database::{self, DatabaseStatus};

use crate::args::{DbCommand, GlobalArgs, OutputFormat};
use crate::exit::CliError;
use crate::output;

pub(crate) async fn run(
    global: &GlobalArgs,
    data_dir: &Path,
    command: &DbCommand,
) -> Result<(), CliError> {
    let (config, url) = database::database_url(
        data_dir,
        global.config.as_deref(),
        global.database.as_deref(),
    )?;
    match command {
        DbCommand::Status => {
            let status = database::database_status(&config, &url).await?;
            print_status(&status, global.output)?;
            if status.up_to_date() {
                Ok(())
            } else {
                Err(CliError::Io(not_up_to_date(&status)))
            }
        }
        DbCommand::Migrate => {
            let before = database::database_status(&config, &url).await?;
            let after = database::migrate_database(&config, &url).await?;
            if global.output == OutputFormat::Table {
                match before.pending.len() {
                    0 => errln!(
                        "Nothing to apply: the schema is at version {}.",
                        after.latest
                    ),
                    n => errln!("Applied {n} migration(s)."),
                }
            }
            print_status(&after, global.output)
        }
        DbCommand::Copy { from, to, force } => {
            let mut last = String::new();
            let table = global.output == OutputFormat::Table;
            let report = database::copy_database(&config, from, to, *force, &mut |t, n| {
                if table && t != last {
                    errln!("copying {t}…");
                    last = t.to_owned();
                }
                tracing::debug!(table = t, rows = n, "copied");
            })
            .await?;
            match global.output {
                OutputFormat::Json => output::json(&serde_json::json!({
                    "tables": report.tables.iter().map(|t| serde_json::json!({"table": t.table, "rows": t.rows})).collect::<Vec<_>>(),
                    "secretsByKey": report.secrets_by_key,
                    "replacedRows": report.replaced_rows,
                })),
                OutputFormat::Table => {
                    output::table(
                        &["TABLE", "ROWS COPIED"],
                        report
                            .tables
                            .iter()
                            .map(|t| vec![t.table.to_owned(), t.rows.to_string()])
                            .collect(),
                    );
                    let keys: Vec<String> = report
                        .secrets_by_key
                        .iter()
                        .map(|(k, n)| format!("{n} sealed by master key {k}"))
                        .collect();
                    outln!(
                        "Copied; every table's row count matches the source. Secrets: {}. \
                         Start jiralink against the new database with the same master key.",
                        if keys.is_empty() {
                            "none".to_owned()
                        } else {
                            keys.join(", ")
                        }
                    );
                    Ok(())
                }
            }
        }
    }
}

fn not_up_to_date(status: &DatabaseStatus) -> String {
    if !status.unknown.is_empty() {
        "the database was upgraded by a newer jiralink; run that version".to_owned()
    } else if let Some(v) = status.dirty {
        format!("migration {v} started and did not finish; restore the backup taken before it")
    } else {
        format!(
            "{} migration(s) pending: run `jiralink db migrate` (servers apply them when they \
             start)",
            status.pending.len()
        )
    }
}

fn print_status(status: &DatabaseStatus, format: OutputFormat) -> Result<(), CliError> {
    match format {
        OutputFormat::Json => output::json(status),
        OutputFormat::Table => {
            let pending = if status.pending.is_empty() {
                "none".to_owned()
            } else {
                status
                    .pending
                    .iter()
                    .map(|m| format!("{} {}", m.version, m.description))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            output::details(&[
                ("database", status.url.clone()),
                ("backend", status.backend.to_owned()),
                (
                    "schema version",
                    status
                        .version
                        .map_or_else(|| "none (empty database)".to_owned(), |v| v.to_string()),
                ),
                ("latest version", status.latest.to_string()),
                ("pending migrations", pending),
            ]);
            Ok(())
        }
    }
}
