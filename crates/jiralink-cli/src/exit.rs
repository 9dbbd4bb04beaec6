//! Exit codes (documented in `jiralink --help`) and how failures are printed: the error, then
//! in a table-mode terminal the CLI's own hint lines ([`crate::hint`]).

use std::process::ExitCode;

use jiralink_app::AppError;

use crate::args::OutputFormat;

pub(crate) const INTERNAL: u8 = 1;
pub(crate) const USAGE: u8 = 2;
pub(crate) const INVALID: u8 = 3;
pub(crate) const NOT_FOUND: u8 = 4;
pub(crate) const CONFLICT: u8 = 5;
pub(crate) const KEY: u8 = 6;
pub(crate) const CONFIG: u8 = 7;
pub(crate) const TEST_FAILED: u8 = 8;
pub(crate) const NEEDS_AUTHORIZATION: u8 = 9;
pub(crate) const EXPORT_FAILED: u8 = 10;
pub(crate) const IMPORT_FAILED: u8 = 11;
pub(crate) const RECORDS_FAILED: u8 = 12;
pub(crate) const CANCELLED: u8 = 130;
/// Standard output was closed by its reader (128 + SIGPIPE, as shells report it).
pub(crate) const BROKEN_PIPE: i32 = 141;

/// A failure of a command: an application error, or one the CLI found itself.
#[derive(Debug)]
pub(crate) enum CliError {
    App(AppError),
    /// Wrong usage found after parsing (e.g. a secret passed as an argument).
    Usage(String),
    /// The user said no, or pressed Ctrl-C at a prompt.
    Cancelled(String),
    Io(String),
    /// A connection test failed (the report was printed).
    TestFailed(String),
    /// An OAuth 2.0 connection must be authorized before it can be tested.
    NeedsAuthorization(String),
    /// An import finished, but some of its records failed (the summary was printed).
    RecordsFailed(String),
}

impl From<AppError> for CliError {
    fn from(e: AppError) -> Self {
        Self::App(e)
    }
}

impl CliError {
    fn retryable(&self) -> bool {
        match self {
            Self::App(e) => e.error_code().retryable,
            Self::Usage(_)
            | Self::Cancelled(_)
            | Self::Io(_)
            | Self::TestFailed(_)
            | Self::NeedsAuthorization(_)
            | Self::RecordsFailed(_) => false,
        }
    }

    fn code(&self) -> (&'static str, u8) {
        match self {
            Self::App(e) => {
                let code = e.code();
                let exit = match code {
                    "validation_failed"
                    | "oauth_state_invalid"
                    | "oauth_access_denied"
                    | "oauth_site_not_granted"
                    | "oauth_site_choice_needed" => INVALID,
                    "connection_not_found"
                    | "oauth_client_not_found"
                    | "user_not_found"
                    | "api_key_not_found"
                    | "export_not_found"
                    | "import_not_found"
                    | "flow_not_found"
                    | "flow_run_not_found"
                    | "listener_not_found"
                    | "run_not_found"
                    | "subscription_not_found"
                    | "notification_not_found"
                    | "output_expired" => NOT_FOUND,
                    "connection_name_taken"
                    | "oauth_client_name_taken"
                    | "oauth_client_in_use"
                    | "export_name_taken"
                    | "import_name_taken"
                    | "import_running"
                    | "flow_name_taken"
                    | "flow_running"
                    | "flow_waiting"
                    | "listener_name_taken"
                    | "in_use"
                    | "connection_in_use"
                    | "export_running"
                    | "username_taken"
                    | "last_admin"
                    | "conflict"
                    | "subscription_exists"
                    | "channel_not_configured"
                    | "database_not_empty" => CONFLICT,
                    "vault_locked" | "vault_error" | "secret_unreadable" => KEY,
                    "invalid_config" | "io_error" | "database_unavailable" | "schema_mismatch" => {
                        CONFIG
                    }
                    "connection_offline" | "oauth_failed" | "webhook_registration_failed" => {
                        TEST_FAILED
                    }
                    "reauthorization_required" | "connection_needs_authorization" => {
                        NEEDS_AUTHORIZATION
                    }
                    "export_failed" => EXPORT_FAILED,
                    "import_failed" => IMPORT_FAILED,
                    _ => INTERNAL,
                };
                (code, exit)
            }
            Self::Usage(_) => ("usage", USAGE),
            Self::Cancelled(_) => ("cancelled", CANCELLED),
            Self::Io(_) => ("io_error", CONFIG),
            Self::TestFailed(_) => ("connection_test_failed", TEST_FAILED),
            Self::NeedsAuthorization(_) => ("connection_needs_authorization", NEEDS_AUTHORIZATION),
            Self::RecordsFailed(_) => ("records_failed", RECORDS_FAILED),
        }
    }

    fn message(&self) -> String {
        match self {
            Self::App(AppError::Validation(errors)) => {
                let mut s = String::from("the settings are not valid:");
                for e in errors.iter() {
                    s.push_str(&format!("\n  - {}: {}", e.field.label(), e.message));
                }
                s
            }
            Self::App(e) => e.to_string(),
            Self::Usage(m)
            | Self::Cancelled(m)
            | Self::Io(m)
            | Self::TestFailed(m)
            | Self::NeedsAuthorization(m)
            | Self::RecordsFailed(m) => m.clone(),
        }
    }
}

pub(crate) fn report(e: &CliError, output: OutputFormat) -> ExitCode {
    let (code, exit) = e.code();
    // Failures of the database itself go to the log with their detail; what the user can
    // fix (a target that is not empty, schemas at different versions) is only reported.
    if let CliError::App(AppError::Store(inner)) = e
        && !matches!(
            inner,
            jiralink_app::StoreError::NotEmpty { .. }
                | jiralink_app::StoreError::SchemaMismatch { .. }
                | jiralink_app::StoreError::InvalidUrl(_)
        )
    {
        tracing::error!(error = ?inner, "storage failure");
    }
    match output {
        OutputFormat::Json => {
            let mut body = serde_json::json!({
                "error": { "code": code, "message": e.message(), "retryable": e.retryable() }
            });
            if let CliError::App(AppError::Validation(errors)) = e {
                body["error"]["fields"] = serde_json::to_value(errors).unwrap_or_default();
            }
            crate::output::print_json_err(&body.to_string());
        }
        OutputFormat::Table => {
            errln!("error: {}", e.message());
            if let CliError::App(app) = e {
                for hint in crate::hint::hints(app) {
                    errln!("hint: {hint}");
                }
            }
        }
    }
    ExitCode::from(exit)
}
