//! One file per noun; each turns parsed arguments into service calls and prints results.

mod api_key;
mod authorize;
mod connection;
mod connection_test;
mod db;
mod demo;
mod export;
mod flow;
mod import;
mod job;
mod key;
mod listener;
mod notification;
mod oauth_client;
mod run;
mod serve;
mod user;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use jiralink_app::{Actor, App, OpenOptions, SystemClock};

use crate::args::{Cli, Command, OutputFormat};
use crate::exit::CliError;
use crate::output;

/// What every command needs.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) app: App,
    pub(crate) output: OutputFormat,
    /// Whether prompts may be shown.
    pub(crate) interactive: bool,
    pub(crate) actor: Actor,
}

fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "jiralink").map(|d| d.data_dir().to_path_buf())
}

pub(crate) async fn run(cli: Cli) -> Result<(), CliError> {
    let global = cli.global;
    let file = global.output_file.clone();
    if file.is_some() && !matches!(cli.command, Command::Export(_) | Command::Run(_)) {
        return Err(CliError::Usage(
            "--output takes table or json; a file is only for `export` and `run output`".to_owned(),
        ));
    }
    // The scope catalogue needs no data directory.
    if let Command::Connection(c) = &cli.command
        && let crate::args::ConnectionCommand::Scopes { api_type } = &**c
    {
        return connection::scopes(global.output, api_type);
    }
    let env_names: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .collect();
    output::notices(
        &jiralink_app::unknown_env_notices(&env_names),
        global.output,
    );
    if let Command::Serve(args) = &cli.command
        && args.demo
    {
        // The demo writes the configuration before the data directory is opened.
        return demo::run(&global, args).await;
    }
    let data_dir = global
        .data_dir
        .clone()
        .or_else(default_data_dir)
        .ok_or_else(|| {
            CliError::Usage(
                "no data directory could be determined for this user; pass --data-dir DIR or set \
             JIRALINK_DATA_DIR"
                    .to_owned(),
            )
        })?;
    if let Command::Db(c) = &cli.command {
        return db::run(&global, &data_dir, c).await;
    }
    let opened = App::open(OpenOptions {
        data_dir,
        config_file: global.config,
        database: global.database,
        clock: Arc::new(SystemClock),
        env: Box::new(|k| std::env::var(k).ok()),
    })
    .await?;
    output::notices(&opened.notices, global.output);
    let ctx = Ctx {
        app: opened.value,
        output: global.output,
        interactive: !global.no_input && std::io::stdin().is_terminal(),
        actor: Actor::cli(&|k| std::env::var(k).ok()),
    };
    match cli.command {
        Command::Connection(c) => connection::run(&ctx, *c).await,
        Command::OAuthClient(c) => oauth_client::run(&ctx, c).await,
        Command::Key(c) => key::run(&ctx, c).await,
        Command::User(c) => user::run(&ctx, c).await,
        Command::ApiKey(c) => api_key::run(&ctx, c).await,
        Command::Serve(args) => serve::serve(&ctx, &args).await,
        Command::Job(c) => job::run(&ctx, c).await,
        Command::Export(c) => export::run(&ctx, *c, file).await,
        Command::Run(c) => run::run(&ctx, c, file).await,
        Command::Import(c) => import::run(&ctx, c).await,
        Command::Flow(c) => flow::run(&ctx, c).await,
        Command::Notification(c) => notification::run(&ctx, c).await,
        Command::Listener(c) => listener::run(&ctx, c).await,
        Command::Db(_) => Ok(()),
        Command::Completions { .. } | Command::Sim(_) => Ok(()),
    }
}
