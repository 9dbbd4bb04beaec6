//! `jiralink serve`: the REST API, health checks and the OAuth 2.0 callback on one address,
//! with the re-test of offline connections running beside it until Ctrl-C (or SIGTERM).

use std::net::SocketAddr;

use jiralink_app::TestOutcome;
use jiralink_web::{API_KEY_ENV, ApiKeySource, AppState};
use tokio::sync::watch;

use super::Ctx;
use crate::exit::CliError;

pub(crate) async fn serve(ctx: &Ctx, bind: SocketAddr) -> Result<(), CliError> {
    let env_key = std::env::var(API_KEY_ENV).ok();
    let (hash, source) =
        jiralink_web::load_or_create_api_key(ctx.app.data_dir(), env_key.as_deref())
            .map_err(|e| CliError::Usage(e.to_string()))?;
    drop(env_key);
    match source {
        ApiKeySource::Created(key) => {
            eprintln!(
                "Created the API key for /v1; it is shown only this once (only its SHA-256 is \
                 kept, in {}). Store it now:",
                ctx.app
                    .data_dir()
                    .join(jiralink_web::API_KEY_FILE)
                    .display()
            );
            println!("{}", key.expose());
        }
        ApiKeySource::Env => eprintln!("API key: from {API_KEY_ENV}."),
        ApiKeySource::File => eprintln!(
            "API key: the one created on the first start (its hash is in {}; delete that file \
             to create a new key).",
            ctx.app
                .data_dir()
                .join(jiralink_web::API_KEY_FILE)
                .display()
        ),
    }
    if !bind.ip().is_loopback() {
        eprintln!(
            "warning: listening on {bind}, beyond this machine, over plain HTTP; put a TLS \
             reverse proxy in front and set server.base_url to its https address."
        );
    }
    let listener = tokio::net::TcpListener::bind(bind).await.map_err(|e| {
        CliError::Io(format!(
            "could not listen on {bind} ({e}); stop what uses that address or pass --bind \
             127.0.0.1:PORT"
        ))
    })?;
    let router = jiralink_web::router(AppState::new(ctx.app.clone(), hash));

    let (stop_tx, mut stop_rx) = watch::channel(false);
    let app = ctx.app.clone();
    let interval = app.config().connections.retest_interval.get();
    let retest = tokio::spawn(async move {
        let mut report = |outcomes: &[TestOutcome]| {
            for o in outcomes {
                tracing::info!(
                    connection = %o.connection,
                    passed = o.passed(),
                    "re-tested an offline connection"
                );
            }
        };
        let stopped = async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        };
        app.run_retest_loop(
            interval,
            &jiralink_atlassian::TokioSleeper,
            stopped,
            &mut report,
        )
        .await;
    });

    eprintln!(
        "Serving on http://{bind} (public address {}, OAuth 2.0 callback {}). Ctrl-C stops.",
        ctx.app.config().server.base_url,
        ctx.app.oauth_callback_url()
    );
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            stop_signal().await;
            let _ = stop_tx.send(true);
        })
        .await;
    let _ = retest.await;
    served.map_err(|e| CliError::Io(format!("the server stopped: {e}")))?;
    eprintln!("Stopped.");
    Ok(())
}

/// Ctrl-C, or SIGTERM from a service manager.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    r = tokio::signal::ctrl_c() => log_signal_error(r),
                    _ = term.recv() => {}
                }
                return;
            }
            Err(e) => tracing::warn!(error = %e, "cannot watch for SIGTERM; only Ctrl-C stops"),
        }
    }
    log_signal_error(tokio::signal::ctrl_c().await);
}

fn log_signal_error(result: std::io::Result<()>) {
    if let Err(e) = result {
        tracing::error!(error = %e, "cannot wait for Ctrl-C; stopping");
    }
}
