//! `jiralink user …`, and the first administrator of `jiralink serve`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use jiralink_app::{ADMIN_USERNAME, Password, UserView, format_time};

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
                    outln!(
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
                    outln!(
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
                .change_password(&user.id.to_string(), None, &password, &ctx.actor)
                .await?;
            match ctx.output {
                OutputFormat::Json => output::json(&updated),
                OutputFormat::Table => {
                    outln!(
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

/// On the first start of the server listening on `listening`, creates the administrator
/// `admin` with the password in `JIRALINK_ADMIN_PASSWORD`, else with a generated one printed
/// once on stdout.
pub(crate) async fn bootstrap_admin(ctx: &Ctx, listening: SocketAddr) -> Result<(), CliError> {
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
        errln!(
            "Created the administrator \"{ADMIN_USERNAME}\". Its password is shown only this once \
             (only an Argon2id hash is kept); sign in at {} and change it with `jiralink \
             user password {ADMIN_USERNAME}`:",
            sign_in_urls(&ctx.app.config().server.base_url, listening)
        );
        crate::output::print_secret(password.expose());
    }
    Ok(())
}

/// Where the first administrator signs in: the address the server listens on, which works
/// before any proxy is set up, and the public address too when that is another one.
fn sign_in_urls(base_url: &url::Url, listening: SocketAddr) -> String {
    // A wildcard address is not one to browse to; this machine's loopback reaches it.
    let ip = match listening.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let local = format!("http://{}/login", SocketAddr::new(ip, listening.port()));
    let public = jiralink_web::public_url(base_url, "login").to_string();
    if public == local {
        local
    } else {
        format!("{local} (or {public} through the public address)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).expect("a test URL")
    }

    #[test]
    fn the_sign_in_address_is_where_the_server_listens() {
        let at = |s: &str| s.parse::<SocketAddr>().expect("a test address");
        assert_eq!(
            sign_in_urls(&url("http://127.0.0.1:8080"), at("127.0.0.1:8080")),
            "http://127.0.0.1:8080/login"
        );
        assert_eq!(
            sign_in_urls(&url("http://127.0.0.1:8080"), at("127.0.0.1:41234")),
            "http://127.0.0.1:41234/login (or http://127.0.0.1:8080/login through the public \
             address)"
        );
        assert_eq!(
            sign_in_urls(&url("https://jira-links.example.com/"), at("0.0.0.0:9000")),
            "http://127.0.0.1:9000/login (or https://jira-links.example.com/login through the \
             public address)"
        );
        assert_eq!(
            sign_in_urls(&url("http://[::1]:7000"), at("[::]:7000")),
            "http://[::1]:7000/login"
        );
    }
}
