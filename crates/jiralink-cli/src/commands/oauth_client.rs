//! `jiralink oauth-client …`

use jiralink_app::{
    AuditEntry, ClientSecret, OAuthClientDraft, OAuthClientSecrets, OAuthClientView, SecretEntry,
};

use crate::args::{OAuthClientCommand, OAuthClientFields, OutputFormat};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::secrets::SecretSource;
use crate::{output, prompt};

pub(crate) async fn run(ctx: &Ctx, command: OAuthClientCommand) -> Result<(), CliError> {
    match command {
        OAuthClientCommand::Create(fields) => create(ctx, fields).await,
        OAuthClientCommand::List => {
            let views = ctx.app.list_oauth_clients().await?;
            match ctx.output {
                OutputFormat::Json => output::json(&views),
                OutputFormat::Table => {
                    output::table(
                        &["NAME", "CLIENT ID", "CLIENT SECRET", "USED BY"],
                        views
                            .iter()
                            .map(|v| {
                                vec![
                                    v.name.clone(),
                                    v.client_id.clone(),
                                    v.client_secret.describe(),
                                    if v.used_by.is_empty() {
                                        "-".to_owned()
                                    } else {
                                        v.used_by.join(", ")
                                    },
                                ]
                            })
                            .collect(),
                    );
                    if let Some(v) = views.first() {
                        errln!(
                            "Callback URL to register with Atlassian: {}",
                            v.callback_url
                        );
                    }
                    Ok(())
                }
            }
        }
        OAuthClientCommand::Show { client } => {
            let view = ctx.app.get_oauth_client(&client).await?;
            show(ctx, &view)
        }
        OAuthClientCommand::Edit { client, fields } => edit(ctx, &client, fields).await,
        OAuthClientCommand::Delete { client, yes } => delete(ctx, &client, yes).await,
        OAuthClientCommand::Audit { client } => {
            let entries = ctx.app.oauth_client_audit(&client).await?;
            print_audit(ctx, &entries)
        }
    }
}

fn secret_source(fields: &OAuthClientFields) -> SecretSource<'_> {
    SecretSource {
        label: "client secret",
        flag: "client-secret",
        stdin: fields.client_secret_stdin,
        file: fields.client_secret_file.as_deref(),
        env: fields.client_secret_env.as_deref(),
        refused_value: fields.client_secret.is_some(),
    }
}

fn read_secret(
    ctx: &Ctx,
    source: &SecretSource<'_>,
    editing: bool,
) -> Result<Option<ClientSecret>, CliError> {
    if let Some(v) = source.read()? {
        return Ok(Some(ClientSecret::new(v.as_str())));
    }
    if ctx.interactive {
        let help = if editing {
            "The client secret is never shown: enter it again to save this client."
        } else {
            "The Client secret from your app's Settings page in the Atlassian developer console. \
             It is stored encrypted and never shown again."
        };
        return Ok(Some(ClientSecret::new(
            prompt::secret("Client secret", help)?.as_str(),
        )));
    }
    Ok(None)
}

async fn create(ctx: &Ctx, fields: OAuthClientFields) -> Result<(), CliError> {
    let source = secret_source(&fields);
    let mut draft = OAuthClientDraft {
        name: fields.name.clone(),
        client_id: fields.client_id.clone(),
        client_secret: SecretEntry::Missing,
    };
    if ctx.interactive {
        if draft.name.is_none() {
            draft.name = Some(prompt::text(
                "Name",
                "A name to pick this OAuth 2.0 client by when creating connections.",
            )?);
        }
        if draft.client_id.is_none() {
            errln!(
                "Register this callback URL in your Atlassian app (Authorization > OAuth 2.0 \
                 (3LO)): {}",
                ctx.app.oauth_callback_url()
            );
            draft.client_id = Some(prompt::text(
                "Client ID",
                "The Client ID from your app's Settings page in the Atlassian developer console.",
            )?);
        }
    }
    let secret = read_secret(ctx, &source, false)?;
    let saved = ctx
        .app
        .create_oauth_client(
            &draft,
            OAuthClientSecrets {
                client_secret: secret,
            },
            &ctx.actor,
        )
        .await?;
    output::notices(&saved.notices, ctx.output);
    if ctx.output == OutputFormat::Table {
        outln!("Created OAuth 2.0 client {:?}.", saved.value.name);
    }
    show(ctx, &saved.value)
}

async fn edit(ctx: &Ctx, reference: &str, fields: OAuthClientFields) -> Result<(), CliError> {
    let source = secret_source(&fields);
    let current = ctx.app.find_oauth_client(reference).await?;
    let draft = OAuthClientDraft {
        name: Some(
            fields
                .name
                .clone()
                .unwrap_or_else(|| current.settings.name.as_str().to_owned()),
        ),
        client_id: Some(
            fields
                .client_id
                .clone()
                .unwrap_or_else(|| current.settings.client_id.clone()),
        ),
        client_secret: SecretEntry::Missing,
    };
    let secret = read_secret(ctx, &source, true)?;
    let saved = ctx
        .app
        .update_oauth_client(
            &current.id.to_string(),
            current.version,
            &draft,
            OAuthClientSecrets {
                client_secret: secret,
            },
            &ctx.actor,
        )
        .await?;
    output::notices(&saved.notices, ctx.output);
    if ctx.output == OutputFormat::Table {
        outln!("Saved OAuth 2.0 client {:?}.", saved.value.name);
    }
    show(ctx, &saved.value)
}

async fn delete(ctx: &Ctx, reference: &str, yes: bool) -> Result<(), CliError> {
    let view = ctx.app.get_oauth_client(reference).await?;
    if !yes {
        if !ctx.interactive {
            return Err(CliError::Usage(format!(
                "deleting {:?} needs confirmation; pass --yes to delete without a prompt",
                view.name
            )));
        }
        if !prompt::confirm(&format!("Delete the OAuth 2.0 client {:?}?", view.name))? {
            return Err(CliError::Cancelled("nothing was deleted".to_owned()));
        }
    }
    let deleted = ctx.app.delete_oauth_client(&view.id, &ctx.actor).await?;
    match ctx.output {
        OutputFormat::Json => output::json(&serde_json::json!({
            "deleted": { "id": deleted.id.to_string(), "name": deleted.settings.name.as_str() }
        })),
        OutputFormat::Table => {
            outln!(
                "Deleted OAuth 2.0 client {:?}.",
                deleted.settings.name.as_str()
            );
            Ok(())
        }
    }
}

fn show(ctx: &Ctx, v: &OAuthClientView) -> Result<(), CliError> {
    if ctx.output == OutputFormat::Json {
        return output::json(v);
    }
    output::details(&[
        ("Name", v.name.clone()),
        ("ID", v.id.clone()),
        ("Client ID", v.client_id.clone()),
        ("Client secret", v.client_secret.describe()),
        ("Callback URL", v.callback_url.clone()),
        (
            "Used by",
            if v.used_by.is_empty() {
                "-".to_owned()
            } else {
                v.used_by.join(", ")
            },
        ),
        ("Created", jiralink_app::format_time(v.created_at)),
        ("Updated", jiralink_app::format_time(v.updated_at)),
    ]);
    Ok(())
}

pub(crate) fn print_audit(ctx: &Ctx, entries: &[AuditEntry]) -> Result<(), CliError> {
    if ctx.output == OutputFormat::Json {
        return output::json(entries);
    }
    let rows = entries
        .iter()
        .map(|e| {
            let changes: Vec<String> = e
                .changes
                .iter()
                .map(|c| {
                    if c.secret {
                        format!(
                            "{}: {}",
                            c.field,
                            c.after.as_deref().unwrap_or("re-entered")
                        )
                    } else {
                        format!(
                            "{}: {} -> {}",
                            c.field,
                            c.before.as_deref().unwrap_or("-"),
                            c.after.as_deref().unwrap_or("-")
                        )
                    }
                })
                .collect();
            vec![
                jiralink_app::format_time(e.at),
                e.actor.clone(),
                enum_text(&e.source),
                enum_text(&e.action),
                changes.join("\n"),
            ]
        })
        .collect();
    output::table(&["TIME", "ACTOR", "SOURCE", "ACTION", "CHANGES"], rows);
    Ok(())
}

fn enum_text<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "-".to_owned(),
    }
}
