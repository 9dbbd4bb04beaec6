//! `jiralink serve`: the web UI, the REST API, health checks, metrics and the OAuth 2.0
//! callback on one address, with the background work (re-tests of offline connections, OAuth
//! 2.0 token keep-alive and unfinished refreshes) running beside it until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use jiralink_app::{JobRun, WorkerOptions};
use jiralink_web::{API_KEY_ENV, ApiKeySource, AppState, ServerOptions};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::Ctx;
use crate::args::ServeArgs;
use crate::exit::CliError;

/// How often the metrics recorder drops stale histogram samples.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// `jiralink serve` without `--demo`.
pub(crate) async fn serve(ctx: &Ctx, args: &ServeArgs) -> Result<(), CliError> {
    let listener = listen(args.bind).await?;
    serve_on(ctx, listener, ServerOptions::default()).await
}

/// Binds the server's address. Port 0 picks a free port; the listener knows which.
pub(crate) async fn listen(bind: SocketAddr) -> Result<TcpListener, CliError> {
    if !bind.ip().is_loopback() {
        errln!(
            "warning: listening on {bind}, beyond this machine, over plain HTTP; put a TLS \
             reverse proxy in front and set server.base_url to its https address."
        );
    }
    TcpListener::bind(bind).await.map_err(|e| {
        CliError::Io(format!(
            "could not listen on {bind} ({e}); stop what uses that address or pass --bind \
             127.0.0.1:PORT"
        ))
    })
}

/// Serves on `listener` until SIGTERM or Ctrl-C, then lets open requests finish and stops
/// the background work.
pub(crate) async fn serve_on(
    ctx: &Ctx,
    listener: TcpListener,
    mut options: ServerOptions,
) -> Result<(), CliError> {
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::Io(format!("the listening address cannot be read: {e}")))?;
    let hash = api_key(ctx).await?;
    super::user::bootstrap_admin(ctx, addr).await?;
    let metrics = install_metrics_recorder()?;
    let render = metrics.clone();
    options.metrics = Some(Arc::new(move || render.render()));
    let router = jiralink_web::router(AppState::new(ctx.app.clone(), hash).with_options(options));

    let (stop_tx, stop_rx) = watch::channel(false);
    let background = tokio::spawn(background_work(ctx.app.clone(), stop_rx));
    let upkeep = tokio::spawn(async move {
        let mut every = tokio::time::interval(METRICS_UPKEEP);
        loop {
            every.tick().await;
            metrics.run_upkeep();
        }
    });

    // Registered before "Serving on" is printed: a SIGTERM sent as soon as the address is
    // known must stop the server gracefully, not kill it with the default action.
    let stop = stop_signal();
    warn_if_base_url_differs(ctx, addr);
    tracing::info!(%addr, "serving");
    errln!(
        "Serving on http://{addr} (public address {}, OAuth 2.0 callback {}). Ctrl-C stops.",
        ctx.app.config().server.base_url,
        ctx.app.oauth_callback_url()
    );
    let served = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        stop.await;
        let _ = stop_tx.send(true);
    })
    .await;
    let _ = background.await;
    upkeep.abort();
    served.map_err(|e| CliError::Io(format!("the server stopped: {e}")))?;
    tracing::info!("stopped");
    errln!("Stopped.");
    Ok(())
}

/// The key for `/v1` and `/metrics`: from the environment, or created on the first start
/// of any server on the database and printed once on stdout (only its hash is kept, in the
/// database).
async fn api_key(ctx: &Ctx) -> Result<jiralink_web::ApiKeyHash, CliError> {
    let env_key = std::env::var(API_KEY_ENV).ok();
    let (hash, source) = jiralink_web::load_or_create_api_key(&ctx.app, env_key.as_deref())
        .await
        .map_err(|e| CliError::Usage(e.to_string()))?;
    drop(env_key);
    match source {
        ApiKeySource::Created(key) => {
            errln!(
                "Created the API key for /v1 and /metrics; it is shown only this once (only its \
                 SHA-256 is kept, in the database, for every server using it). Store it now:"
            );
            crate::output::print_secret(key.expose());
        }
        ApiKeySource::Env => errln!("API key: from {API_KEY_ENV}."),
        ApiKeySource::Database | ApiKeySource::File => errln!(
            "API key: the one created on the first start (its hash is in the database; \
             `jiralink api-key reset-server` forgets it, and the next start creates a new one)."
        ),
    }
    Ok(hash)
}

/// The process-wide recorder every crate's metrics go to; `/metrics` renders it. The
/// counters of events start at 0 here, so a fresh server already lists them.
fn install_metrics_recorder() -> Result<PrometheusHandle, CliError> {
    let recorder = metrics_recorder()?;
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|e| CliError::Io(format!("the metrics recorder cannot start: {e}")))?;
    jiralink_web::describe_metrics();
    Ok(handle)
}

fn metrics_recorder() -> Result<PrometheusRecorder, CliError> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(jiralink_web::HTTP_REQUEST_DURATION_SECONDS.to_owned()),
            jiralink_web::HTTP_REQUEST_DURATION_BUCKETS,
        )
        .map(PrometheusBuilder::build_recorder)
        .map_err(|e| CliError::Io(format!("the metrics recorder cannot start: {e}")))
}

/// Runs the background jobs this server claims (re-tests of offline connections, OAuth 2.0
/// token keep-alive), until `stop` turns true. Servers sharing a database each run one; every
/// job runs on one of them at a time.
async fn background_work(app: jiralink_app::App, mut stop: watch::Receiver<bool>) {
    let options = WorkerOptions::from_config(app.config());
    let mut report = |run: &JobRun| {
        tracing::info!(
            job = %run.kind,
            outcome = run.outcome.as_str(),
            detail = run.detail.as_deref().unwrap_or(""),
            "background job ran"
        );
    };
    let stopped = async move {
        let _ = stop.wait_for(|stop| *stop).await;
    };
    app.run_worker(&options, stopped, &mut report).await;
}

/// Atlassian sends OAuth 2.0 consents back to `server.base_url`: when that names this
/// machine on another port than the one served, the callback would reach nothing.
fn warn_if_base_url_differs(ctx: &Ctx, addr: SocketAddr) {
    let base = &ctx.app.config().server.base_url;
    let local = matches!(
        base.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    if local && base.port_or_known_default() != Some(addr.port()) {
        errln!(
            "warning: server.base_url is {base}, but this server listens on port {}: OAuth 2.0 \
             authorizations will come back to {}. Set server.base_url (or \
             JIRALINK_SERVER__BASE_URL) to http://{addr}.",
            addr.port(),
            ctx.app.oauth_callback_url()
        );
    }
}

/// Ctrl-C, or SIGTERM from a service manager.
fn stop_signal() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Both handlers are installed here, before the returned future is first polled.
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                return Box::pin(async move {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                });
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "cannot watch for SIGTERM; only Ctrl-C stops");
            }
        }
    }
    Box::pin(async { log_signal_error(tokio::signal::ctrl_c().await) })
}

fn log_signal_error(result: std::io::Result<()>) {
    if let Err(e) = result {
        tracing::error!(error = %e, "cannot wait for Ctrl-C; stopping");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_recorder_lists_the_event_counters_at_zero() {
        let recorder = metrics_recorder().expect("the recorder builds");
        let handle = recorder.handle();
        // The start-up calls, into this test's recorder instead of the process-wide one.
        metrics::with_local_recorder(&recorder, jiralink_web::describe_metrics);
        let text = handle.render();
        for series in [
            "jiralink_rate_limit_waits_total 0",
            "jiralink_rate_limit_wait_seconds_total 0",
            "jiralink_token_refreshes_total{outcome=\"ok\"} 0",
            "jiralink_token_refreshes_total{outcome=\"rejected\"} 0",
            "jiralink_token_refreshes_total{outcome=\"failed\"} 0",
        ] {
            assert!(text.lines().any(|l| l == series), "{series} in:\n{text}");
        }
    }
}
