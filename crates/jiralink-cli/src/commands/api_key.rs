//! `jiralink api-key …`: users' keys for scripts using the /v1 API.

use jiralink_app::{ApiKeyView, format_time};

use crate::args::{ApiKeyCommand, OutputFormat};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::output;

pub(crate) async fn run(ctx: &Ctx, command: ApiKeyCommand) -> Result<(), CliError> {
    match command {
        ApiKeyCommand::Create { user, name } => {
            let created = ctx.app.create_api_key(&user, &name, &ctx.actor).await?;
            match ctx.output {
                OutputFormat::Json => output::json(&serde_json::json!({
                    "apiKey": created.view,
                    "key": created.key.expose(),
                })),
                OutputFormat::Table => {
                    errln!(
                        "Created the API key {:?} for {} (id {}). It is shown only this once \
                         (only its SHA-256 is kept); scripts send it as `Authorization: Bearer \
                         <key>`:",
                        created.view.name,
                        created.view.username,
                        created.view.id
                    );
                    crate::output::print_secret(created.key.expose());
                    Ok(())
                }
            }
        }
        ApiKeyCommand::List { user } => {
            let keys = ctx.app.list_api_keys(user.as_deref()).await?;
            match ctx.output {
                OutputFormat::Json => output::json(&keys),
                OutputFormat::Table => {
                    output::table(
                        &["ID", "NAME", "USER", "STARTS WITH", "CREATED", "LAST USED"],
                        keys.iter().map(row).collect(),
                    );
                    Ok(())
                }
            }
        }
        ApiKeyCommand::ResetServer => {
            let key = jiralink_web::reset_api_key(&ctx.app)
                .await
                .map_err(|e| CliError::Io(e.to_string()))?;
            match ctx.output {
                OutputFormat::Json => output::json(&serde_json::json!({ "key": key.expose() })),
                OutputFormat::Table => {
                    errln!(
                        "Replaced the server's API key: every server on this database accepts the \
                         new key and refuses the old one from now on (servers given \
                         JIRALINK_API_KEY keep that one). It is shown only this once:"
                    );
                    crate::output::print_secret(key.expose());
                    Ok(())
                }
            }
        }
        ApiKeyCommand::Revoke { id } => {
            let revoked = ctx.app.revoke_api_key(&id, &ctx.actor).await?;
            match ctx.output {
                OutputFormat::Json => output::json(&serde_json::json!({ "revoked": revoked })),
                OutputFormat::Table => {
                    outln!(
                        "Revoked the API key {:?} of {}; scripts using it are refused from now on.",
                        revoked.name,
                        revoked.username
                    );
                    Ok(())
                }
            }
        }
    }
}

fn row(k: &ApiKeyView) -> Vec<String> {
    vec![
        k.id.to_string(),
        k.name.clone(),
        k.username.clone(),
        format!("{}…", k.prefix),
        format_time(k.created_at),
        k.last_used_at
            .map_or_else(|| "never".to_owned(), format_time),
    ]
}
