//! The hint lines printed under an error: the `jiralink` command that helps next.
//!
//! Application errors say what happened and what to do in words every front end can show
//! (the web UI and the REST API show them as they are); the commands belong to the CLI and are
//! added here, from the stable error code and the data the error carries. The reference a user
//! typed is named here too (the error's message never repeats it), quoted for a shell.

use jiralink_app::{AppError, Field};

/// The hints for `error`, in the order to print them; empty when there is nothing to add.
pub(crate) fn hints(error: &AppError) -> Vec<String> {
    match error {
        AppError::Validation(errors) => {
            let mut hints = Vec::new();
            if errors.for_field(Field::OAuthClient).next().is_some() {
                hints.push(
                    "`jiralink oauth-client list` shows the OAuth 2.0 clients; `jiralink \
                     oauth-client create` adds one"
                        .to_owned(),
                );
            }
            if errors.for_field(Field::Scopes).next().is_some() {
                hints.push(
                    "`jiralink connection scopes --api-type <api type>` lists the scopes of an \
                     API type"
                        .to_owned(),
                );
            }
            hints
        }
        AppError::ConnectionNotFound { reference } => vec![not_found(reference, "connection")],
        AppError::OAuthClientNotFound { reference } => vec![not_found(reference, "oauth-client")],
        AppError::UserNotFound { reference } => vec![not_found(reference, "user")],
        AppError::ApiKeyNotFound { reference } => vec![not_found(reference, "api-key")],
        AppError::ExportNotFound { reference } => vec![not_found(reference, "export")],
        AppError::RunNotFound { reference } => vec![not_found(reference, "run")],
        AppError::ExportNameTaken { .. } => {
            vec!["`jiralink export list` shows the names in use".to_owned()]
        }
        AppError::ConnectionInUse { .. } => vec![
            "change each of them with `jiralink export edit <name> --connection <other>`, or \
             delete it with `jiralink export delete <name>`"
                .to_owned(),
        ],
        AppError::ExportRunning { run, .. } => vec![format!(
            "follow it with `jiralink run show {run}`, or stop it with `jiralink run cancel {run}`"
        )],
        AppError::OutputExpired { .. } => Vec::new(),
        AppError::ExportFailed { run, .. } => run
            .iter()
            .map(|run| format!("`jiralink run show {run}` shows the run"))
            .collect(),
        AppError::ImportNotFound { reference } => vec![not_found(reference, "import")],
        AppError::FlowNotFound { reference } => vec![not_found(reference, "flow")],
        AppError::FlowRunNotFound { .. } => {
            vec!["`jiralink flow runs` lists the runs with their ids".to_owned()]
        }
        AppError::FlowNameTaken { .. } => {
            vec!["`jiralink flow list` shows the names in use".to_owned()]
        }
        AppError::InUse { what: "flow", .. } => vec![
            "`jiralink listener list` shows which flow each listener feeds; `jiralink listener \
             delete <name>` deletes one"
                .to_owned(),
        ],
        AppError::InUse { .. } => {
            vec!["`jiralink flow list` shows which export and import each flow uses".to_owned()]
        }
        AppError::ListenerNotFound { reference } => vec![not_found(reference, "listener")],
        AppError::ListenerNameTaken { .. } => {
            vec!["`jiralink listener list` shows the names in use".to_owned()]
        }
        AppError::DeliveryRefused
        | AppError::DeliveryReplayed
        | AppError::DeliveryTooLarge { .. } => Vec::new(),
        AppError::WebhookRegistration { .. } => vec![
            "an OAuth 2.0 connection needs the scope manage:jira-webhook: add it with \
             `jiralink connection edit <name> --add-scope manage:jira-webhook` and authorize \
             it again"
                .to_owned(),
        ],
        AppError::FlowWaiting { .. } => {
            vec!["`jiralink flow runs` shows the runs of every flow".to_owned()]
        }
        AppError::FlowRunning { .. } => vec![
            "wait for the run to finish; a run whose process died is resumed by the next \
             `jiralink flow run` once its lease has run out (exports.lease)"
                .to_owned(),
        ],
        AppError::SubscriptionNotFound | AppError::SubscriptionExists => vec![
            "`jiralink notification subscriptions --user <user>` lists a user's subscriptions"
                .to_owned(),
        ],
        AppError::NotificationNotFound => {
            vec!["`jiralink notification list` shows the notifications and their ids".to_owned()]
        }
        AppError::ChannelNotConfigured { channel } => vec![if *channel == "email" {
            "set [notifications.smtp] host and from in jiralink.toml (docs/notifications.md)"
                .to_owned()
        } else {
            "`jiralink notification webhook set URL` sets the webhook".to_owned()
        }],
        AppError::ImportNameTaken { .. } => {
            vec!["`jiralink import list` shows the names in use".to_owned()]
        }
        AppError::ImportRunning { run, .. } => vec![format!(
            "`jiralink run cancel {run}` stops it; or wait and run the import again"
        )],
        AppError::ImportFailed { run, .. } => run
            .iter()
            .map(|run| {
                format!(
                    "`jiralink run output {run}` shows the results so far; running the import \
                     again creates nothing twice"
                )
            })
            .collect(),
        AppError::ConnectionNameTaken { .. } => {
            vec!["`jiralink connection list` shows the names in use".to_owned()]
        }
        AppError::OAuthClientNameTaken { .. } => {
            vec!["`jiralink oauth-client list` shows the names in use".to_owned()]
        }
        AppError::UsernameTaken { .. } => {
            vec!["`jiralink user list` shows the names in use".to_owned()]
        }
        AppError::OAuthClientInUse { .. } => vec![
            "change each of them with `jiralink connection edit <name> --oauth-client <other \
             client>`, or delete it with `jiralink connection delete <name>`"
                .to_owned(),
        ],
        AppError::LastAdmin { .. } => {
            vec!["add another administrator first: `jiralink user add <name> --admin`".to_owned()]
        }
        AppError::SecretUnreadable { what, owner } => {
            if jiralink_app::unreadable_token(what) {
                vec![format!("run `jiralink {}`", command(owner, "authorize"))]
            } else {
                vec![format!(
                    "enter it again with `jiralink {}`",
                    command(owner, "edit")
                )]
            }
        }
        AppError::ConnectionOffline { name, .. } => vec![format!(
            "once the cause is fixed, run `jiralink connection test {}`",
            shell_quote(name)
        )],
        AppError::Conflict { .. } => {
            vec!["show it again (`jiralink … show`), then make the change again".to_owned()]
        }
        AppError::ChangedDuringTest { name } => vec![format!(
            "run `jiralink connection test {}`",
            shell_quote(name)
        )],
        AppError::OAuthStateInvalid => {
            vec!["start again with `jiralink connection authorize <name>`".to_owned()]
        }
        AppError::AuthorizationDenied {
            name, description, ..
        }
        | AppError::OAuthProviderUnavailable {
            name, description, ..
        }
        | AppError::OAuthProviderError {
            name, description, ..
        } => {
            let mut hints: Vec<String> = description
                .iter()
                .map(|d| format!("Atlassian said: {d}"))
                .collect();
            hints.push(authorize(name));
            hints
        }
        AppError::SiteNotGranted { name, .. } => vec![authorize(name)],
        AppError::SiteChoiceNeeded { name, .. } => vec![format!(
            "choose one with `jiralink connection authorize {} --site <URL>`",
            shell_quote(name)
        )],
        AppError::ReauthorizationRequired { name }
        | AppError::ConnectionNeedsAuthorization { name } => vec![authorize(name)],
        AppError::OAuthClientRejected { client, .. } => vec![format!(
            "run `jiralink oauth-client edit {}`",
            shell_quote(client)
        )],
        AppError::Vault(_)
        | AppError::KeyMismatch { .. }
        | AppError::KeyMissing { .. }
        | AppError::TokenRefresh(_)
        | AppError::Authorization(_)
        | AppError::InvalidCredentials
        | AppError::SignInThrottled { .. }
        | AppError::InvalidInput(_)
        | AppError::Config(_)
        | AppError::Io(_) => Vec::new(),
        AppError::Store(store) => match store {
            jiralink_app::StoreError::NotEmpty { .. } => {
                vec!["`jiralink db copy … --force` replaces what the target holds".to_owned()]
            }
            jiralink_app::StoreError::SchemaMismatch { .. } => vec![
                "`jiralink db migrate --database <URL>` brings a database up to date".to_owned(),
            ],
            _ => Vec::new(),
        },
    }
}

/// `noun` is the CLI's word for the resource, e.g. `oauth-client`.
fn not_found(reference: &str, noun: &str) -> String {
    let what = match noun {
        "api-key" => "an API key's id",
        "user" => "a user's name or id",
        "oauth-client" => "an OAuth 2.0 client's name or id",
        "export" => "an export's name or id",
        "import" => "an import's name or id",
        "listener" => "a listener's name or id",
        "run" => "an export run's id",
        _ => "a connection's name or id",
    };
    format!(
        "{} is not {what}; `jiralink {noun} list` shows them",
        shell_quote(reference.trim())
    )
}

fn authorize(name: &str) -> String {
    format!("run `jiralink connection authorize {}`", shell_quote(name))
}

/// `connection <id>` / `oauth-client <id>` as the arguments of `verb`: `connection edit <id>`.
fn command(owner: &str, verb: &str) -> String {
    match owner.split_once(' ') {
        Some((noun, id)) => format!("{noun} {verb} {id}"),
        None => owner.to_owned(),
    }
}

/// `text` as one word for a POSIX shell: as it is when it is plainly safe, else in single
/// quotes.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | ':' | '/'));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_for_a_shell() {
        assert_eq!(shell_quote("acme"), "acme");
        assert_eq!(shell_quote("Jira - acme"), "'Jira - acme'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm)"), "'$(rm)'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn hints_carry_the_exact_command() {
        let hint = |e: AppError| hints(&e).join("\n");
        assert_eq!(
            hint(AppError::ConnectionNotFound {
                reference: "Jira - acme".to_owned()
            }),
            "'Jira - acme' is not a connection's name or id; `jiralink connection list` shows \
             them"
        );
        assert_eq!(
            hint(AppError::ReauthorizationRequired {
                name: "Jira OAuth".to_owned()
            }),
            "run `jiralink connection authorize 'Jira OAuth'`"
        );
        assert_eq!(
            hint(AppError::SecretUnreadable {
                what: "api_token".to_owned(),
                owner: "connection 0b6f".to_owned()
            }),
            "enter it again with `jiralink connection edit 0b6f`"
        );
        assert_eq!(
            hint(AppError::SecretUnreadable {
                what: "refresh_token of connection 0b6f".to_owned(),
                owner: "connection 0b6f".to_owned()
            }),
            "run `jiralink connection authorize 0b6f`"
        );
        assert_eq!(
            hint(AppError::OAuthClientRejected {
                name: "c".to_owned(),
                client: "App".to_owned()
            }),
            "run `jiralink oauth-client edit App`"
        );
        assert!(hint(AppError::InvalidCredentials).is_empty());
    }

    /// The messages themselves name no command: every front end shows them as they are.
    #[test]
    fn application_messages_name_no_command() {
        let name = || "n".to_owned();
        for error in [
            AppError::ConnectionNotFound { reference: name() },
            AppError::OAuthClientNotFound { reference: name() },
            AppError::UserNotFound { reference: name() },
            AppError::ApiKeyNotFound { reference: name() },
            AppError::SecretUnreadable {
                what: name(),
                owner: name(),
            },
            AppError::ConnectionOffline {
                name: name(),
                reason: name(),
                since: name(),
            },
            AppError::OAuthStateInvalid,
            AppError::OAuthClientRejected {
                name: name(),
                client: name(),
            },
            AppError::SiteChoiceNeeded {
                name: name(),
                granted: vec![],
            },
            AppError::ReauthorizationRequired { name: name() },
            AppError::ConnectionNeedsAuthorization { name: name() },
        ] {
            let message = error.to_string();
            assert!(!message.contains("jiralink "), "{message}");
            assert!(!message.contains('`'), "{message}");
            assert!(!hints(&error).is_empty(), "{} has no hint", error.code());
        }
    }
}
