//! `jiralink connection …`

use jiralink_app::{
    ApiToken, ApiType, AuthType, ConnectionDraft, ConnectionSecrets, ConnectionView, catalogue,
};

use crate::args::{ConnectionCommand, ConnectionFields, OutputFormat, SaveTest};
use crate::commands::{Ctx, connection_test};
use crate::exit::CliError;
use crate::secrets::SecretSource;
use crate::{output, prompt};

pub(crate) async fn run(ctx: &Ctx, command: ConnectionCommand) -> Result<(), CliError> {
    match command {
        ConnectionCommand::Create { fields, test } => create(ctx, fields, test).await,
        ConnectionCommand::List => list(ctx).await,
        ConnectionCommand::Show { connection } => {
            let view = ctx.app.get_connection(&connection).await?;
            show(ctx, &view)
        }
        ConnectionCommand::Edit {
            connection,
            fields,
            test,
            add_scopes,
            remove_scopes,
        } => edit(ctx, &connection, fields, test, &add_scopes, &remove_scopes).await,
        ConnectionCommand::Test { connection } => connection_test::test(ctx, &connection).await,
        ConnectionCommand::Debug(args) => connection_test::debug(ctx, args).await,
        ConnectionCommand::Watch { interval, once } => {
            connection_test::watch(ctx, interval, once).await
        }
        ConnectionCommand::Delete { connection, yes } => delete(ctx, &connection, yes).await,
        ConnectionCommand::Authorize {
            connection,
            no_browser,
            listen,
            site,
        } => {
            super::authorize::authorize(
                ctx,
                &connection,
                super::authorize::Options {
                    no_browser,
                    listen,
                    site,
                },
            )
            .await
        }
        ConnectionCommand::Disconnect { connection } => {
            let had = ctx
                .app
                .disconnect_connection(&connection, &ctx.actor)
                .await?;
            let message = if had {
                "Tokens forgotten; the connection needs authorization again."
            } else {
                "The connection held no tokens; it needs authorization."
            };
            match ctx.output {
                OutputFormat::Json => output::json(&serde_json::json!({
                    "connection": connection,
                    "tokensRemoved": had,
                    "state": "needs_authorization",
                })),
                OutputFormat::Table => {
                    outln!("{message}");
                    Ok(())
                }
            }
        }
        ConnectionCommand::HttpView { connection } => {
            let view = ctx.app.connection_http_view(&connection).await?;
            let value = serde_json::to_value(&view)
                .map_err(|e| CliError::Io(format!("could not format the HTTP view: {e}")))?;
            match ctx.output {
                OutputFormat::Json => output::json(&value),
                OutputFormat::Table => {
                    output::tree(&value);
                    Ok(())
                }
            }
        }
        ConnectionCommand::Audit { connection } => {
            let entries = ctx.app.connection_audit(&connection).await?;
            super::oauth_client::print_audit(ctx, &entries)
        }
        ConnectionCommand::Scopes { api_type } => scopes(ctx.output, &api_type),
    }
}

fn token_source(fields: &ConnectionFields) -> SecretSource<'_> {
    SecretSource {
        label: "API token",
        flag: "api-token",
        stdin: fields.api_token.api_token_stdin,
        file: fields.api_token.api_token_file.as_deref(),
        env: fields.api_token.api_token_env.as_deref(),
        refused_value: fields.api_token.api_token.is_some(),
    }
}

fn split_scopes(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split([',', ' ']))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn all_scopes(api: ApiType) -> Vec<String> {
    catalogue(api).iter().map(|s| s.name.to_owned()).collect()
}

/// The API type the draft names, if it names a valid one.
fn api_of(draft: &ConnectionDraft) -> Option<ApiType> {
    draft.api_type.as_deref().and_then(|s| s.parse().ok())
}

/// The auth type that will apply, if known.
pub(crate) fn auth_of(draft: &ConnectionDraft) -> Option<AuthType> {
    match api_of(draft) {
        Some(ApiType::CustomerServiceManagement) => Some(AuthType::OAuth2),
        _ => draft.auth_type.as_deref().and_then(|s| s.parse().ok()),
    }
}

/// Asks for whatever required setting is still missing (only in a terminal).
async fn fill_interactively(ctx: &Ctx, draft: &mut ConnectionDraft) -> Result<(), CliError> {
    if draft.name.is_none() {
        draft.name = Some(prompt::text(
            "Name your connection",
            "A clear, distinguishable name: you will pick the connection from lists by it.",
        )?);
    }
    if draft.api_type.is_none() {
        let items: Vec<String> = ApiType::ALL
            .iter()
            .map(|a| format!("{} - {}", a.label(), a.description()))
            .collect();
        let i = prompt::select("API type", &items)?;
        draft.api_type = ApiType::ALL.get(i).map(|a| a.id().to_owned());
    }
    let api = api_of(draft);
    if api == Some(ApiType::CloudPlatform) {
        if draft.subdomain.is_none() {
            draft.subdomain = Some(prompt::text(
                "Subdomain",
                "Your Jira subdomain: if https://demo.atlassian.net is your URL, demo is the subdomain.",
            )?);
        }
        if draft.auth_type.is_none() {
            let items = vec!["Basic".to_owned(), "OAuth 2.0".to_owned()];
            let i = prompt::select("Auth type", &items)?;
            draft.auth_type = Some(if i == 0 { "basic" } else { "oauth2" }.to_owned());
        }
    }
    match auth_of(draft) {
        Some(AuthType::Basic) if draft.username.is_none() => {
            draft.username = Some(prompt::text(
                "Username",
                "Your Atlassian account e-mail address.",
            )?);
        }
        Some(AuthType::OAuth2) => {
            if draft.oauth_client.is_none() {
                let clients = ctx.app.list_oauth_clients().await?;
                if clients.is_empty() {
                    return Err(CliError::Usage(
                        "there is no OAuth 2.0 client yet; create one first with `jiralink \
                         oauth-client create` (it holds the client ID and secret of your \
                         Atlassian app)"
                            .to_owned(),
                    ));
                }
                let items: Vec<String> = clients
                    .iter()
                    .map(|c| format!("{} (client ID {})", c.name, c.client_id))
                    .collect();
                let i = prompt::select("OAuth 2.0 client", &items)?;
                draft.oauth_client = clients.get(i).map(|c| c.id.clone());
            }
            if draft.scopes.is_empty()
                && let Some(api) = api
            {
                let cat = catalogue(api);
                let items: Vec<String> = cat
                    .iter()
                    .map(|s| format!("{} - {}", s.name, s.description))
                    .collect();
                let picked = prompt::multi_select("Scopes", &items)?;
                draft.scopes = picked
                    .into_iter()
                    .filter_map(|i| cat.get(i).map(|s| s.name.to_owned()))
                    .collect();
            }
        }
        _ => {}
    }
    Ok(())
}

/// Reads the API token when the connection uses Basic auth (or when one was supplied, so
/// that validation can say it does not apply).
fn read_token(
    ctx: &Ctx,
    draft: &ConnectionDraft,
    source: &SecretSource<'_>,
    editing: bool,
) -> Result<Option<ApiToken>, CliError> {
    if let Some(value) = source.read()? {
        return Ok(Some(ApiToken::new(value.as_str())));
    }
    if ctx.interactive && auth_of(draft) == Some(AuthType::Basic) {
        let help = if editing {
            "The API token is never shown: enter it again to save this connection."
        } else {
            "Your Jira API token (Atlassian account settings > Security > API tokens). It is \
             stored encrypted and never shown again."
        };
        let value = prompt::secret("API token", help)?;
        return Ok(Some(ApiToken::new(value.as_str())));
    }
    Ok(None)
}

fn apply_fields(draft: &mut ConnectionDraft, fields: &ConnectionFields) {
    if let Some(v) = &fields.name {
        draft.name = Some(v.clone());
    }
    if let Some(v) = &fields.api_type {
        draft.api_type = Some(v.clone());
    }
    if let Some(v) = &fields.subdomain {
        draft.subdomain = Some(v.clone());
    }
    if let Some(v) = &fields.auth_type {
        draft.auth_type = Some(v.clone());
    }
    if let Some(v) = &fields.username {
        draft.username = Some(v.clone());
    }
    if let Some(v) = &fields.oauth_client {
        draft.oauth_client = Some(v.clone());
    }
    if !fields.scopes.is_empty() {
        draft.scopes = split_scopes(&fields.scopes);
    }
    if let Some(v) = &fields.concurrency_level {
        draft.concurrency_level = Some(v.clone());
    }
    if let Some(v) = &fields.rate_limit_auto_recover {
        draft.rate_limit_auto_recover = Some(v.clone());
    }
    if let Some(v) = &fields.rate_limit_max_retries {
        draft.rate_limit_max_retries = Some(v.clone());
    }
}

async fn create(ctx: &Ctx, fields: ConnectionFields, test: SaveTest) -> Result<(), CliError> {
    let source = token_source(&fields);
    let mut draft = ConnectionDraft::default();
    apply_fields(&mut draft, &fields);
    if ctx.interactive {
        fill_interactively(ctx, &mut draft).await?;
    }
    if fields.all_scopes
        && let Some(api) = api_of(&draft)
    {
        draft.scopes = all_scopes(api);
    }
    let token = read_token(ctx, &draft, &source, false)?;
    let secrets = ConnectionSecrets { api_token: token };
    let outcome = connection_test::before_saving(ctx, &draft, &secrets, None, test).await?;
    let saved = ctx
        .app
        .create_connection(&draft, secrets, &ctx.actor)
        .await?;
    let view = match &outcome {
        Some(o) => ctx.app.apply_test_outcome(&saved.value.id, o).await?,
        None => saved.value,
    };
    output::notices(&saved.notices, ctx.output);
    if ctx.output == OutputFormat::Table {
        outln!("Created connection {:?}.", view.name);
    }
    show(ctx, &view)
}

async fn edit(
    ctx: &Ctx,
    reference: &str,
    fields: ConnectionFields,
    test: SaveTest,
    add: &[String],
    remove: &[String],
) -> Result<(), CliError> {
    let source = token_source(&fields);
    let (current, mut draft) = ctx.app.connection_draft(reference).await?;
    let old_api = current.settings.api_type;
    let old_auth = current.settings.auth.auth_type();
    apply_fields(&mut draft, &fields);
    // Settings of the previous API or auth type that the new one does not use are dropped
    // from the prefilled form, as the form hides them; explicitly given ones stay, so that
    // validation can point at them.
    let new_api = api_of(&draft);
    let mut cleared: Vec<&str> = Vec::new();
    if new_api != Some(old_api) && new_api == Some(ApiType::CustomerServiceManagement) {
        if fields.subdomain.is_none() && draft.subdomain.take().is_some() {
            cleared.push("subdomain");
        }
        if fields.auth_type.is_none() {
            draft.auth_type = None;
        }
    }
    let new_auth = auth_of(&draft);
    if new_auth != Some(old_auth) {
        match new_auth {
            Some(AuthType::OAuth2)
                if fields.username.is_none() && draft.username.take().is_some() =>
            {
                cleared.push("username");
            }
            Some(AuthType::Basic) => {
                if fields.oauth_client.is_none() && draft.oauth_client.take().is_some() {
                    cleared.push("OAuth 2.0 client");
                }
                if fields.scopes.is_empty() && !draft.scopes.is_empty() {
                    draft.scopes.clear();
                    cleared.push("scopes");
                }
            }
            _ => {}
        }
    }
    if fields.all_scopes
        && let Some(api) = new_api
    {
        draft.scopes = all_scopes(api);
    }
    for s in split_scopes(add) {
        if !draft.scopes.contains(&s) {
            draft.scopes.push(s);
        }
    }
    let remove = split_scopes(remove);
    draft.scopes.retain(|s| !remove.contains(s));
    if ctx.interactive {
        fill_interactively(ctx, &mut draft).await?;
    }
    if !cleared.is_empty() {
        errln!(
            "note: cleared {}, which the new API type or auth type does not use",
            cleared.join(", ")
        );
    }
    let token = read_token(ctx, &draft, &source, true)?;
    let secrets = ConnectionSecrets { api_token: token };
    let outcome =
        connection_test::before_saving(ctx, &draft, &secrets, Some(current.id), test).await?;
    let saved = ctx
        .app
        .update_connection(
            &current.id.to_string(),
            current.version,
            &draft,
            secrets,
            &ctx.actor,
        )
        .await?;
    let view = match &outcome {
        Some(o) => ctx.app.apply_test_outcome(&saved.value.id, o).await?,
        None => saved.value,
    };
    output::notices(&saved.notices, ctx.output);
    if ctx.output == OutputFormat::Table {
        outln!("Saved connection {:?}.", view.name);
    }
    show(ctx, &view)
}

async fn delete(ctx: &Ctx, reference: &str, yes: bool) -> Result<(), CliError> {
    let view = ctx.app.get_connection(reference).await?;
    if !yes {
        if !ctx.interactive {
            return Err(CliError::Usage(format!(
                "deleting {:?} needs confirmation; pass --yes to delete without a prompt",
                view.name
            )));
        }
        if !prompt::confirm(&format!(
            "Delete the connection {:?} and its stored credentials?",
            view.name
        ))? {
            return Err(CliError::Cancelled("nothing was deleted".to_owned()));
        }
    }
    let deleted = ctx.app.delete_connection(&view.id, &ctx.actor).await?;
    match ctx.output {
        OutputFormat::Json => output::json(&serde_json::json!({
            "deleted": { "id": deleted.id.to_string(), "name": deleted.settings.name.as_str() }
        })),
        OutputFormat::Table => {
            outln!("Deleted connection {:?}.", deleted.settings.name.as_str());
            Ok(())
        }
    }
}

async fn list(ctx: &Ctx) -> Result<(), CliError> {
    let views = ctx.app.list_connections().await?;
    match ctx.output {
        OutputFormat::Json => output::json(&views),
        OutputFormat::Table => {
            let rows = views
                .iter()
                .map(|v| {
                    vec![
                        v.name.clone(),
                        v.api_type_label.to_owned(),
                        auth_label(v),
                        v.subdomain.clone().unwrap_or_else(|| "-".to_owned()),
                        v.state_text(),
                        v.last_tested_text(),
                        jiralink_app::format_time(v.updated_at),
                    ]
                })
                .collect();
            output::table(
                &[
                    "NAME",
                    "API TYPE",
                    "AUTH",
                    "SUBDOMAIN",
                    "STATE",
                    "LAST TESTED",
                    "UPDATED",
                ],
                rows,
            );
            Ok(())
        }
    }
}

fn auth_label(v: &ConnectionView) -> String {
    match v.auth_type {
        "basic" => "Basic".to_owned(),
        _ => "OAuth 2.0".to_owned(),
    }
}

/// "auto-recover on, up to 4 retries" / "auto-recover off".
fn rate_limit_text(v: &ConnectionView) -> String {
    if v.rate_limit_auto_recover {
        format!(
            "auto-recover on, up to {} {}",
            v.rate_limit_max_retries,
            if v.rate_limit_max_retries == 1 {
                "retry"
            } else {
                "retries"
            }
        )
    } else {
        "auto-recover off (rate limits are reported at once)".to_owned()
    }
}

pub(crate) fn show(ctx: &Ctx, v: &ConnectionView) -> Result<(), CliError> {
    if ctx.output == OutputFormat::Json {
        return output::json(v);
    }
    let mut pairs: Vec<(&str, String)> = vec![
        ("Name", v.name.clone()),
        ("ID", v.id.clone()),
        ("API type", v.api_type_label.to_owned()),
    ];
    if let Some(s) = &v.subdomain {
        pairs.push(("Subdomain", s.clone()));
    }
    pairs.push(("Auth type", auth_label(v)));
    if let Some(u) = &v.username {
        pairs.push(("Username", u.clone()));
    }
    if let Some(t) = &v.api_token {
        pairs.push(("API token", t.describe()));
    }
    if let Some(c) = &v.oauth_client {
        pairs.push((
            "OAuth 2.0 client",
            c.name.clone().unwrap_or_else(|| c.id.clone()),
        ));
        pairs.push(("Scopes", v.scopes.join(" ")));
    }
    pairs.push(("Concurrency level", v.concurrency_level.to_string()));
    pairs.push(("Rate-limit handling", rate_limit_text(v)));
    pairs.push(("State", v.state_text()));
    if let Some(at) = v.state_changed_at {
        pairs.push(("State since", jiralink_app::format_time(at)));
    }
    pairs.push(("Last tested", v.last_tested_text()));
    if let Some(c) = &v.cloud_id {
        pairs.push(("Cloud ID", c.clone()));
    }
    if let Some(until) = v.debug_until.filter(|u| *u > ctx.app.now()) {
        pairs.push((
            "Debugger",
            format!("recording until {}", jiralink_app::format_time(until)),
        ));
    }
    pairs.push(("Created", jiralink_app::format_time(v.created_at)));
    pairs.push(("Updated", jiralink_app::format_time(v.updated_at)));
    output::details(&pairs);
    Ok(())
}

pub(crate) fn scopes(output: OutputFormat, api_type: &str) -> Result<(), CliError> {
    let api: ApiType = api_type.parse().map_err(|_| {
        CliError::Usage(format!(
            "unknown API type {api_type:?}; use cloud-platform or customer-service-management"
        ))
    })?;
    let cat = catalogue(api);
    match output {
        OutputFormat::Json => output::json(
            &cat.iter()
                .map(|s| {
                    serde_json::json!({"name": s.name, "group": s.group, "description": s.description})
                })
                .collect::<Vec<_>>(),
        ),
        OutputFormat::Table => {
            output::table(
                &["SCOPE", "GROUP", "DESCRIPTION"],
                cat.iter()
                    .map(|s| vec![s.name.to_owned(), s.group.to_owned(), s.description.to_owned()])
                    .collect(),
            );
            errln!("offline_access is always requested too, so tokens can be refreshed.");
            Ok(())
        }
    }
}
