//! `jiralink connection authorize`: prints (and on a desktop opens) Atlassian's authorize URL
//! and receives the callback on a one-shot listener bound to a loopback address.
//!
//! The listener only transports: `App::complete_authorization` checks `state`, exchanges the
//! code and stores the tokens. It serves exactly the callback path, answers with a small
//! self-contained page (`Referrer-Policy: no-referrer`, `Cache-Control: no-store`, no
//! third-party assets, no redirect) and shuts down after the callback that carries this run's
//! `state`; any other request to the path gets a 400 and the wait goes on.
//!
//! When a `jiralink serve` answers at `server.base_url`, the server receives the callback
//! instead: the command starts the authorization itself (it shares the server's data
//! directory, so the server finds the pending `state`), prints Atlassian's authorize URL and
//! waits until the connection has been authorized (`--listen` or `--site` keep the one-shot
//! listener).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiralink_app::{AppError, AuthorizationOutcome, CallbackParams, GrantedSite, OAuthState};
use jiralink_web::callback_page;
use tokio::sync::mpsc;

use super::Ctx;
use crate::args::OutputFormat;
use crate::exit::CliError;
use crate::{output, prompt};

#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) no_browser: bool,
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) site: Option<String>,
}

#[derive(Clone)]
struct Shared {
    app: jiralink_app::App,
    actor: jiralink_app::Actor,
    site: Option<String>,
    interactive: bool,
    done: mpsc::Sender<Result<AuthorizationOutcome, AppError>>,
    /// The callback is served once; later requests get a plain "already done" page.
    used: Arc<Mutex<bool>>,
    /// This run's `state`: any other request to the callback path is a stray (a stale tab,
    /// another run, a local process probing the port) and must not end the wait.
    state: Arc<OAuthState>,
}

/// The listener receives the callback only when Atlassian redirects the browser to this
/// machine, so the registered callback URL must be plain http on a loopback host.
fn loopback_callback(callback: &url::Url) -> Result<(), CliError> {
    let loopback = match callback.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if callback.scheme() != "http" || !loopback {
        return Err(CliError::Usage(format!(
            "the callback URL {callback} (from server.base_url) is not plain http on a loopback \
             address, so this command cannot receive it; use --listen 127.0.0.1:PORT and \
             register http://127.0.0.1:PORT/connection/oauth2callback, or run `jiralink serve` \
             at that address and authorize again"
        )));
    }
    Ok(())
}

fn listen_addr(redirect: &url::Url, listen: Option<SocketAddr>) -> Result<SocketAddr, CliError> {
    let addr = match listen {
        Some(a) => a,
        None => {
            let port = redirect.port_or_known_default().unwrap_or(80);
            SocketAddr::from(([127, 0, 0, 1], port))
        }
    };
    if !addr.ip().is_loopback() {
        return Err(CliError::Usage(format!(
            "--listen {addr} is not a loopback address; the callback listener binds only to \
             127.0.0.1 or ::1"
        )));
    }
    Ok(addr)
}

fn desktop() -> bool {
    cfg!(target_os = "macos")
        || cfg!(windows)
        || ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

fn open_browser(url: &url::Url) {
    let program = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    // The URL holds only public values (client id, state, challenge), so an argument is fine.
    match std::process::Command::new(program)
        .arg(url.as_str())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(_) => errln!("Opened the URL in your browser."),
        Err(e) => errln!("Could not start {program} ({e}); open the URL yourself."),
    }
}

pub(crate) async fn authorize(
    ctx: &Ctx,
    reference: &str,
    options: Options,
) -> Result<(), CliError> {
    if options.listen.is_none()
        && options.site.is_none()
        && let Some(base) = running_server(&ctx.app).await
    {
        return hand_off(ctx, reference, &base, options.no_browser).await;
    }
    loopback_callback(&ctx.app.oauth_callback_url())?;
    let start = ctx.app.begin_authorization(reference).await?;
    let state = start
        .url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| OAuthState::new(v.into_owned()))
        .ok_or_else(|| CliError::Io("the authorize URL carries no state".to_owned()))?;
    let addr = listen_addr(&start.redirect_uri, options.listen)?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        CliError::Io(format!(
            "could not listen on {addr} for the callback ({e}); stop what uses that port or \
             pass --listen 127.0.0.1:PORT (the callback URL registered with Atlassian must \
             match)"
        ))
    })?;
    let (tx, mut rx) = mpsc::channel(1);
    let shared = Shared {
        app: ctx.app.clone(),
        actor: ctx.actor.clone(),
        site: options.site,
        interactive: ctx.interactive,
        done: tx,
        used: Arc::new(Mutex::new(false)),
        state: Arc::new(state),
    };
    let router = axum::Router::new()
        .route(start.redirect_uri.path(), axum::routing::get(callback))
        .with_state(shared);
    errln!("Open this URL in a browser and grant access:");
    outln!("{}", start.url);
    errln!(
        "Waiting for Atlassian's callback on http://{addr}{} (until {}).",
        start.redirect_uri.path(),
        jiralink_app::format_time(start.state_expires_at)
    );
    if !options.no_browser && desktop() {
        open_browser(&start.url);
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });
    let lifetime = Duration::from_secs(
        u64::try_from(jiralink_app::STATE_LIFETIME.whole_seconds()).unwrap_or(600),
    );
    let result = tokio::time::timeout(lifetime, rx.recv()).await;
    let _ = stop_tx.send(());
    let _ = server.await;
    let outcome = match result {
        Err(_) | Ok(None) => {
            return Err(CliError::Io(
                "no callback arrived within ten minutes; run `jiralink connection authorize` \
                 again"
                    .to_owned(),
            ));
        }
        Ok(Some(r)) => r?,
    };
    match ctx.output {
        OutputFormat::Json => output::json(&outcome),
        OutputFormat::Table => {
            outln!(
                "Authorized {:?} for {} (cloud id {}); the connection is online.",
                outcome.connection,
                outcome.site_url,
                outcome.cloud_id
            );
            if !outcome.missing_scopes.is_empty() {
                errln!(
                    "Atlassian did not grant {}: add them to the app in the developer console, \
                     then authorize again.",
                    outcome.missing_scopes.join(", ")
                );
            }
            Ok(())
        }
    }
}

async fn callback(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let params = CallbackParams::from_query(query.as_deref().unwrap_or_default());
    let ours = params
        .state
        .as_deref()
        .is_some_and(|s| OAuthState::new(s).ct_eq(&shared.state));
    if !ours {
        return callback_page(
            StatusCode::BAD_REQUEST,
            "Unknown authorization",
            "This request does not belong to the authorization jiralink is waiting for; it \
             was ignored.",
        );
    }
    {
        let mut used = shared
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *used {
            return callback_page(
                StatusCode::GONE,
                "Already handled",
                "This authorization was already handled. You can close this window.",
            );
        }
        *used = true;
    }
    let site = shared.site.clone();
    let interactive = shared.interactive;
    let choose = move |sites: &[GrantedSite]| choose_site(sites, site.as_deref(), interactive);
    let result = shared
        .app
        .complete_authorization(&params, &choose, &shared.actor)
        .await;
    let response = match &result {
        Ok(o) => callback_page(
            StatusCode::OK,
            "Connection authorized",
            &format!(
                "The connection {} is authorized for {}. You can close this window.",
                o.connection, o.site_url
            ),
        ),
        Err(e) => callback_page(
            StatusCode::BAD_REQUEST,
            "Authorization failed",
            &e.to_string(),
        ),
    };
    let _ = shared.done.send(result).await;
    response
}

fn choose_site(sites: &[GrantedSite], wanted: Option<&str>, interactive: bool) -> Option<usize> {
    if let Some(wanted) = wanted {
        let wanted = wanted.trim().trim_end_matches('/');
        return sites
            .iter()
            .position(|s| s.url.eq_ignore_ascii_case(wanted));
    }
    if !interactive {
        return None;
    }
    let labels: Vec<String> = sites
        .iter()
        .map(|s| format!("{} ({})", s.name, s.url))
        .collect();
    prompt::select("Which site should the connection use?", &labels).ok()
}

/// How often the connection is looked at while a server handles the authorization.
const HAND_OFF_POLL: Duration = Duration::from_secs(2);

/// The base URL of a jiralink server answering at `server.base_url`, if one does.
async fn running_server(app: &jiralink_app::App) -> Option<url::Url> {
    let base = app.config().server.base_url.clone();
    let health = jiralink_web::public_url(&base, "healthz");
    let res = tokio::time::timeout(Duration::from_secs(3), app.http_client().get(health).send())
        .await
        .ok()?
        .ok()?;
    if !res.status().is_success() {
        return None;
    }
    // Something else may listen on that port: only a jiralink server says so.
    let body: serde_json::Value = res.json().await.ok()?;
    (body["service"] == "jiralink").then_some(base)
}

/// Lets the running server receive the callback: starts the authorization on the shared
/// database, prints Atlassian's authorize URL and waits until the connection has a new
/// authorization and is online.
async fn hand_off(
    ctx: &Ctx,
    reference: &str,
    base: &url::Url,
    no_browser: bool,
) -> Result<(), CliError> {
    let connection = ctx.app.find_connection(reference).await?;
    let id = connection.id.to_string();
    // Counted before starting, so only an authorization completed from now on ends the wait.
    let seen = ctx.app.connection_audit(&id).await?.len();
    let start = ctx.app.begin_authorization(&id).await?;
    errln!("The jiralink server at {base} receives the callback. Open this URL in a browser:");
    outln!("{}", start.url);
    if !no_browser && desktop() {
        open_browser(&start.url);
    }
    errln!("Waiting for the authorization (up to ten minutes; the page shows any error).");
    let lifetime = Duration::from_secs(
        u64::try_from(jiralink_app::STATE_LIFETIME.whole_seconds()).unwrap_or(600),
    );
    let deadline = tokio::time::Instant::now() + lifetime;
    loop {
        let authorized = ctx
            .app
            .connection_audit(&id)
            .await?
            .iter()
            .skip(seen)
            .any(|e| e.action == jiralink_app::AuditAction::Authorize);
        let view = ctx.app.get_connection(&id).await?;
        if authorized && view.state == jiralink_app::ConnectionState::Online {
            return match ctx.output {
                OutputFormat::Json => output::json(&view),
                OutputFormat::Table => {
                    outln!(
                        "Authorized {:?} (cloud id {}); the connection is online.",
                        view.name,
                        view.cloud_id.as_deref().unwrap_or("unknown")
                    );
                    Ok(())
                }
            };
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(CliError::Io(
                "the connection was not authorized within ten minutes; run `jiralink \
                 connection authorize` again"
                    .to_owned(),
            ));
        }
        tokio::time::sleep(HAND_OFF_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listens_on_the_callback_port_and_only_on_loopback() {
        let redirect = url::Url::parse("http://127.0.0.1:8080/connection/oauth2callback").unwrap();
        assert_eq!(
            listen_addr(&redirect, None).unwrap().to_string(),
            "127.0.0.1:8080"
        );
        let other: SocketAddr = "0.0.0.0:9000".parse().unwrap();
        assert!(listen_addr(&redirect, Some(other)).is_err());
    }

    #[test]
    fn only_a_plain_http_loopback_callback_is_accepted() {
        for ok in [
            "http://127.0.0.1:8080/connection/oauth2callback",
            "http://[::1]:8080/connection/oauth2callback",
            "http://localhost:8080/connection/oauth2callback",
        ] {
            assert!(
                loopback_callback(&url::Url::parse(ok).unwrap()).is_ok(),
                "{ok}"
            );
        }
        for refused in [
            "https://127.0.0.1:8443/connection/oauth2callback",
            "http://jiralink.example.com/connection/oauth2callback",
            "http://10.0.0.5:8080/connection/oauth2callback",
        ] {
            let err = loopback_callback(&url::Url::parse(refused).unwrap()).unwrap_err();
            let CliError::Usage(message) = err else {
                panic!("{refused}: {err:?}")
            };
            assert!(message.contains("--listen 127.0.0.1:PORT"), "{message}");
        }
    }

    #[test]
    fn a_site_flag_picks_by_url() {
        let sites = vec![
            GrantedSite {
                cloud_id: "1".into(),
                name: "A".into(),
                url: "https://a.atlassian.net".into(),
            },
            GrantedSite {
                cloud_id: "2".into(),
                name: "B".into(),
                url: "https://b.atlassian.net".into(),
            },
        ];
        assert_eq!(
            choose_site(&sites, Some("https://b.atlassian.net/"), false),
            Some(1)
        );
        assert_eq!(choose_site(&sites, None, false), None);
    }
}
