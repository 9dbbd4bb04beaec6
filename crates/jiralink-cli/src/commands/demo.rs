//! `jiralink serve --demo`: the server with a simulated Jira Cloud in the same process, so a
//! newcomer can try every flow (Basic and OAuth 2.0 connections of both API types, the consent
//! page included) without an Atlassian account.
//!
//! Start-up order matters: the server's port must be known before the simulator starts (it
//! registers the server's callback URL for its sample OAuth app), and the simulator's address
//! before the data directory is opened (its configuration points at the simulator).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use jiralink_app::{
    ADMIN_USERNAME, Actor, App, AppError, ClientSecret, OAuthClientDraft, OAuthClientSecrets,
    OpenOptions, Password, SecretEntry, SystemClock,
};
use jiralink_sim::identity::DEFAULT_SITE;
use jiralink_sim::{Sim, SimConfig, SimHandle};
use jiralink_web::{DemoInfo, ServerOptions};
use rand::distributions::{Alphanumeric, DistString as _};
use rand::rngs::OsRng;

use super::{Ctx, serve};
use crate::args::{GlobalArgs, ServeArgs};
use crate::exit::CliError;
use crate::output;

/// The OAuth 2.0 client the demo creates from the simulator's sample app.
pub(crate) const DEMO_CLIENT_NAME: &str = "Demo OAuth app";

/// The first line of a configuration the demo wrote; only such a file is rewritten.
const DEMO_CONFIG_MARKER: &str = "# Written by `jiralink serve --demo`";

pub(crate) async fn run(global: &GlobalArgs, args: &ServeArgs) -> Result<(), CliError> {
    if global.config.is_some() {
        return Err(CliError::Usage(
            "--demo writes its own configuration into the data directory; leave out --config \
             (and unset JIRALINK_CONFIG)"
                .to_owned(),
        ));
    }
    if !args.bind.ip().is_loopback() {
        return Err(CliError::Usage(format!(
            "--demo serves this machine only (the simulated Jira listens on 127.0.0.1); pass a \
             loopback address such as --bind 127.0.0.1:{}",
            args.bind.port()
        )));
    }
    let listener = serve::listen(args.bind).await?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::Io(format!("the listening address cannot be read: {e}")))?;
    let base_url = server_base_url(addr)?;
    let callback = jiralink_web::public_url(&base_url, "connection/oauth2callback");
    let sim = Sim::start(SimConfig {
        oauth_callbacks: vec![callback.to_string()],
        ..SimConfig::default()
    })
    .await
    .map_err(|e| CliError::Io(format!("the demo's simulated Jira cannot start: {e}")))?;

    let result = run_with_sim(global, listener, &base_url, &sim).await;
    sim.shutdown().await;
    result
}

async fn run_with_sim(
    global: &GlobalArgs,
    listener: tokio::net::TcpListener,
    base_url: &url::Url,
    sim: &SimHandle,
) -> Result<(), CliError> {
    // The temporary directory lives until the server stops, then is deleted.
    let (data_dir, temporary) = match &global.data_dir {
        Some(dir) => (dir.clone(), None),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("jiralink-demo-")
                .tempdir()
                .map_err(|e| {
                    CliError::Io(format!(
                        "no temporary data directory can be created ({e}); pass --data-dir DIR"
                    ))
                })?;
            (dir.path().to_path_buf(), Some(dir))
        }
    };
    write_demo_config(&data_dir, base_url, sim)?;
    let opened = App::open(OpenOptions {
        data_dir: data_dir.clone(),
        config_file: None,
        database: global.database.clone(),
        clock: Arc::new(SystemClock),
        env: Box::new(|k| std::env::var(k).ok()),
    })
    .await?;
    // A temporary directory's new master key needs no backing up: it is deleted on exit.
    if temporary.is_none() {
        output::notices(&opened.notices, global.output);
    }
    let ctx = Ctx {
        app: opened.value,
        output: global.output,
        interactive: false,
        actor: Actor::cli(&|k| std::env::var(k).ok()),
    };
    check_config_points_at(&ctx.app, base_url, sim)?;
    let info = prepare(&ctx, sim).await?;
    err!(
        "{}",
        banner(
            &info,
            &sim.base_url(),
            base_url,
            &data_dir,
            temporary.is_some()
        )
    );
    let served = serve::serve_on(
        &ctx,
        listener,
        ServerOptions {
            demo: Some(info),
            metrics: None,
        },
    )
    .await;
    // The database closes before its directory is deleted.
    drop(ctx);
    drop(temporary);
    served
}

/// `http://<the address served>`: what the browser and the simulator's redirects use.
fn server_base_url(addr: SocketAddr) -> Result<url::Url, CliError> {
    url::Url::parse(&format!("http://{addr}"))
        .map_err(|e| CliError::Io(format!("no URL can be made of {addr}: {e}")))
}

/// Points the data directory's configuration at the simulator and at this server. A
/// configuration not written by the demo is never replaced: that data directory belongs to
/// real work.
fn write_demo_config(dir: &Path, base_url: &url::Url, sim: &SimHandle) -> Result<(), CliError> {
    let path = dir.join(jiralink_app::CONFIG_FILE);
    match std::fs::read_to_string(&path) {
        Ok(existing) if !existing.starts_with(DEMO_CONFIG_MARKER) => {
            return Err(CliError::Usage(format!(
                "{} was not written by --demo, so this data directory is not a demo's; leave \
                 out --data-dir (and JIRALINK_DATA_DIR) for a temporary one, or name an empty \
                 directory",
                path.display()
            )));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_private_dir(dir)?,
        Err(e) => {
            return Err(CliError::Io(format!("cannot read {}: {e}", path.display())));
        }
    }
    let text = demo_config(base_url, sim);
    std::fs::write(&path, text)
        .map_err(|e| CliError::Io(format!("cannot write {}: {e}", path.display())))
}

fn demo_config(base_url: &url::Url, sim: &SimHandle) -> String {
    format!(
        "{DEMO_CONFIG_MARKER} on every start: it points jiralink at the simulated\n\
         # Jira Cloud inside that process, whose port changes each time. Use another data\n\
         # directory for real work.\n\
         version = 1\n\n\
         [server]\n\
         base_url = \"{}\"\n\n\
         [atlassian]\n\
         site_url_template = \"{}\"\n\
         api_gateway = \"{}\"\n\
         auth_server = \"{}\"\n",
        base_url.as_str().trim_end_matches('/'),
        sim.site_url_template(),
        sim.api_gateway(),
        sim.auth_server()
    )
}

fn create_private_dir(dir: &Path) -> Result<(), CliError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| {
        CliError::Io(format!(
            "could not create the data directory {}: {e}; choose another with --data-dir",
            dir.display()
        ))
    })
}

/// `JIRALINK_SERVER__*` and `JIRALINK_ATLASSIAN__*` variables outrank the file; set, they
/// would send the demo's requests somewhere else.
fn check_config_points_at(app: &App, base_url: &url::Url, sim: &SimHandle) -> Result<(), CliError> {
    let config = app.config();
    let expected_auth = url::Url::parse(&sim.auth_server()).ok();
    if config.server.base_url.origin() != base_url.origin()
        || expected_auth.as_ref() != Some(&config.atlassian.auth_server)
    {
        return Err(CliError::Usage(
            "a JIRALINK_SERVER__* or JIRALINK_ATLASSIAN__* environment variable overrides the \
             demo's configuration; unset it to run --demo"
                .to_owned(),
        ));
    }
    Ok(())
}

/// Creates (or brings up to date, in a reused demo directory) the OAuth 2.0 client of the
/// simulator's sample app and the administrator, and gathers what the sign-in page shows.
async fn prepare(ctx: &Ctx, sim: &SimHandle) -> Result<DemoInfo, CliError> {
    let samples = sim.samples();
    let draft = OAuthClientDraft {
        name: Some(DEMO_CLIENT_NAME.to_owned()),
        client_id: Some(samples.oauth_client_id.clone()),
        client_secret: SecretEntry::Entered,
    };
    let secrets = || OAuthClientSecrets {
        client_secret: Some(ClientSecret::new(samples.oauth_client_secret.as_str())),
    };
    let existing = ctx
        .app
        .list_oauth_clients()
        .await?
        .into_iter()
        .find(|c| c.name == DEMO_CLIENT_NAME);
    if let Some(existing) = existing {
        ctx.app
            .update_oauth_client(
                DEMO_CLIENT_NAME,
                existing.version,
                &draft,
                secrets(),
                &ctx.actor,
            )
            .await?;
    } else {
        ctx.app
            .create_oauth_client(&draft, secrets(), &ctx.actor)
            .await?;
    }
    let (admin_username, admin_password) = demo_admin(ctx).await?;
    Ok(DemoInfo {
        site_url: sim.site_url(DEFAULT_SITE),
        subdomain: DEFAULT_SITE.to_owned(),
        email: samples.email.clone(),
        api_token: samples.api_token.clone(),
        oauth_client_name: Some(DEMO_CLIENT_NAME.to_owned()),
        client_id: samples.oauth_client_id.clone(),
        client_secret: samples.oauth_client_secret.clone(),
        admin_username,
        admin_password,
    })
}

/// The administrator with a password the sign-in page may show. A reused demo directory
/// never kept the last one, so a new password replaces it.
async fn demo_admin(ctx: &Ctx) -> Result<(String, String), CliError> {
    if let Some(generated) = ctx.app.ensure_admin(None).await? {
        return Ok((ADMIN_USERNAME.to_owned(), generated.expose().to_owned()));
    }
    let password = Password::new(Alphanumeric.sample_string(&mut OsRng, 24));
    match ctx
        .app
        .change_password(ADMIN_USERNAME, None, &password, &ctx.actor)
        .await
    {
        Ok(_) => {}
        Err(AppError::UserNotFound { .. }) => {
            ctx.app
                .create_user(ADMIN_USERNAME, &password, true, &ctx.actor)
                .await?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok((ADMIN_USERNAME.to_owned(), password.expose().to_owned()))
}

/// What the terminal shows: the same as the sign-in page, and where the data lives.
fn banner(
    info: &DemoInfo,
    sim_url: &str,
    base_url: &url::Url,
    data_dir: &Path,
    temporary: bool,
) -> String {
    let login = jiralink_web::public_url(base_url, "login");
    let mut out = String::new();
    let mut line = |text: String| {
        let _ = writeln!(out, "{text}");
    };
    line(format!(
        "Demo mode: a simulated Jira Cloud runs inside this process at {sim_url}."
    ));
    line(if temporary {
        format!(
            "  Data directory: {} (temporary; deleted when the server stops)",
            data_dir.display()
        )
    } else {
        format!(
            "  Data directory: {} (from --data-dir / JIRALINK_DATA_DIR)",
            data_dir.display()
        )
    });
    line(
        "  warning: demo data is throwaway; the simulated Jira forgets everything when it stops."
            .to_owned(),
    );
    line(format!("Sign in at {login}"));
    line(format!("  Username:            {}", info.admin_username));
    line(format!("  Password:            {}", info.admin_password));
    line("Create connections with these (API type Cloud Platform and Service Management, or Customer Service Management):".to_owned());
    line(format!("  Site:                {}", info.site_url));
    line(format!("  Subdomain:           {}", info.subdomain));
    line(format!(
        "  Basic:               username {}, API token {}",
        info.email, info.api_token
    ));
    line(format!(
        "  OAuth 2.0 client:    {:?} (already created: client ID {}, client secret {})",
        info.oauth_client_name
            .as_deref()
            .unwrap_or(DEMO_CLIENT_NAME),
        info.client_id,
        info.client_secret
    ));
    line(
        "  OAuth 2.0 consent:   Save & authorize opens the simulator's consent page; approve there."
            .to_owned(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_demo_configuration_points_at_the_simulator_and_the_server() {
        let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("demo");
        let base = server_base_url("127.0.0.1:4321".parse().unwrap()).unwrap();
        write_demo_config(&data, &base, &sim).unwrap();
        let config = jiralink_app::Config::load(&data, None).unwrap();
        assert_eq!(config.server.base_url.as_str(), "http://127.0.0.1:4321/");
        assert_eq!(config.atlassian.site_url_template, sim.site_url_template());
        assert_eq!(
            config.atlassian.api_gateway.as_str(),
            format!("{}/", sim.api_gateway())
        );
        assert_eq!(
            config.atlassian.auth_server.as_str(),
            format!("{}/", sim.auth_server())
        );
        // Written by the demo, it may be written again; another file may not.
        write_demo_config(&data, &base, &sim).unwrap();
        std::fs::write(data.join(jiralink_app::CONFIG_FILE), "version = 1\n").unwrap();
        assert!(matches!(
            write_demo_config(&data, &base, &sim),
            Err(CliError::Usage(_))
        ));
        sim.shutdown().await;
    }

    #[test]
    fn the_banner_shows_what_the_sign_in_page_shows() {
        let info = DemoInfo {
            site_url: "http://127.0.0.1:9/site/demo".to_owned(),
            subdomain: "demo".to_owned(),
            email: "alice@example.com".to_owned(),
            api_token: "TOKEN-1".to_owned(),
            oauth_client_name: Some(DEMO_CLIENT_NAME.to_owned()),
            client_id: "CLIENT-2".to_owned(),
            client_secret: "SECRET-3".to_owned(),
            admin_username: "admin".to_owned(),
            admin_password: "PASSWORD-4".to_owned(),
        };
        let base = url::Url::parse("http://127.0.0.1:8080").unwrap();
        let text = banner(&info, "http://127.0.0.1:9", &base, Path::new("/d"), true);
        for shown in [
            "http://127.0.0.1:8080/login",
            "http://127.0.0.1:9/site/demo",
            "Subdomain:           demo",
            "alice@example.com",
            "TOKEN-1",
            "\"Demo OAuth app\"",
            "CLIENT-2",
            "SECRET-3",
            "Username:            admin",
            "PASSWORD-4",
            "/d (temporary; deleted when the server stops)",
            "throwaway",
        ] {
            assert!(text.contains(shown), "{shown} missing from:\n{text}");
        }
        let kept = banner(&info, "http://127.0.0.1:9", &base, Path::new("/d"), false);
        assert!(
            kept.contains("/d (from --data-dir / JIRALINK_DATA_DIR)"),
            "{kept}"
        );
    }
}
