//! `jiralink user …`, and the first administrator of `jiralink serve`.

use jiralink_app::{ADMIN_USERNAME, UserView, format_time};
use jiralink_vault::Password;

use crate::args::{OutputFormat, UserCommand};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::secrets::SecretSource;
use crate::{output, prompt};

/// The environment variable with the first administrator's password.
pub(crate) const ADMIN_PASSWORD_ENV: &str = "JIRALINK_ADMIN_PASSWORD";

pub(crate) async fn run(ctx: &Ctx, command: UserCommand) -> Result<(), CliError> {
    match command {
        UserCommand::Add {
            username,
            admin,
            password_stdin,
        } => {
            let password = read_password(ctx, password_stdin, &username)?;
            let user = ctx
                .app
                .create_user(&username, &password, admin, &ctx.actor)
                .await?;
            match ctx.output {
                OutputFormat::Json => output::json(&user),
                OutputFormat::Table => {
                    println!(
                        "Added the {} {}. They sign in at {}.",
                        if user.is_admin {
                            "administrator"
                        } else {
                            "user"
                        },
                        user.username,
                        jiralink_web::public_url(&ctx.app.config().server.base_url, "login")
                    );
                    Ok(())
                }
            }
        }
        UserCommand::List => {
            let users = ctx.app.list_users().await?;
            match ctx.output {
                OutputFormat::Json => output::json(&users),
                OutputFormat::Table => {
                    output::table(
                        &["USER", "ROLE", "CREATED", "ID"],
                        users.iter().map(row).collect(),
                    );
                    Ok(())
                }
            }
        }
        UserCommand::Delete { username, yes } => {
            let user = ctx.app.find_user(&username).await?;
            if !yes {
                if !ctx.interactive {
                    return Err(CliError::Usage(format!(
                        "deleting the user {:?} needs confirmation; pass --yes to delete \
                         without a prompt",
                        user.username
                    )));
                }
                if !prompt::confirm(&format!(
                    "Delete the user {:?} with their sessions and API keys?",
                    user.username
                ))? {
                    return Err(CliError::Cancelled("nothing was deleted".to_owned()));
                }
            }
            let deleted = ctx
                .app
                .delete_user(&user.id.to_string(), &ctx.actor)
                .await?;
            match ctx.output {
                OutputFormat::Json => output::json(&serde_json::json!({ "deleted": deleted })),
                OutputFormat::Table => {
                    println!(
                        "Deleted the user {}, with their sessions and API keys.",
                        deleted.username
                    );
                    Ok(())
                }
            }
        }
        UserCommand::Password {
            username,
            password_stdin,
        } => {
            let user = ctx.app.find_user(&username).await?;
            let password = read_password(ctx, password_stdin, &user.username)?;
            let updated = ctx
                .app
                .change_password(&user.id.to_string(), &password, &ctx.actor)
                .await?;
            match ctx.output {
                OutputFormat::Json => output::json(&updated),
                OutputFormat::Table => {
                    println!(
                        "Set a new password for {}; their open sessions have ended.",
                        updated.username
                    );
                    Ok(())
                }
            }
        }
    }
}

fn row(u: &UserView) -> Vec<String> {
    vec![
        u.username.clone(),
        if u.is_admin { "administrator" } else { "user" }.to_owned(),
        format_time(u.created_at),
        u.id.to_string(),
    ]
}

/// A new password: from stdin with `--password-stdin`, else a hidden prompt typed twice.
fn read_password(ctx: &Ctx, from_stdin: bool, username: &str) -> Result<Password, CliError> {
    let source = SecretSource {
        label: "password",
        flag: "password",
        stdin: from_stdin,
        file: None,
        env: None,
        refused_value: false,
    };
    if let Some(value) = source.read()? {
        return Ok(Password::new(value.as_str()));
    }
    if !ctx.interactive {
        return Err(CliError::Usage(
            "a password is needed: run this in a terminal to type it, or pass \
             --password-stdin and pipe it in"
                .to_owned(),
        ));
    }
    let help = format!(
        "The password of {username} (at least {} characters; typing is hidden).",
        jiralink_app::MIN_PASSWORD_CHARS
    );
    let first = prompt::secret("Password", &help)?;
    let again = prompt::secret("Password again", "Type it once more to catch typos.")?;
    if *first != *again {
        return Err(CliError::Usage(
            "the two passwords differ; nothing was changed, run the command again".to_owned(),
        ));
    }
    Ok(Password::new(first.as_str()))
}

/// On the first start of the server, creates the administrator `admin` with the password in
/// `JIRALINK_ADMIN_PASSWORD`, else with a generated one printed once on stdout.
pub(crate) async fn bootstrap_admin(ctx: &Ctx) -> Result<(), CliError> {
    let from_env = std::env::var(ADMIN_PASSWORD_ENV)
        .ok()
        .filter(|p| !p.is_empty())
        .map(Password::from);
    let given = from_env.is_some();
    let generated = ctx.app.ensure_admin(from_env).await.map_err(|e| match e {
        jiralink_app::AppError::InvalidInput(m) if given => {
            CliError::Usage(format!("{ADMIN_PASSWORD_ENV} is not usable: {m}"))
        }
        other => CliError::App(other),
    })?;
    if let Some(password) = generated {
        eprintln!(
            "Created the administrator \"{ADMIN_USERNAME}\". Its password is shown only this once \
             (only an Argon2id hash is kept); sign in at {} and change it with `jiralink \
             user password {ADMIN_USERNAME}`:",
            jiralink_web::public_url(&ctx.app.config().server.base_url, "login")
        );
        println!("{}", password.expose());
    }
    Ok(())
}
