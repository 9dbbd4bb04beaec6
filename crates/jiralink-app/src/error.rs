//! The application's one error type and its table of stable codes.
//!
//! Codes are part of jiralink's public contract (REST API bodies, `--output json`, exit
//! codes): add codes, never rename them.

use jiralink_domain::ValidationErrors;
use jiralink_store::StoreError;
use jiralink_vault::VaultError;
use thiserror::Error;

/// What went wrong, in words every front end can show as they are: what happened and what to
/// do, never a command of one front end (the CLI adds its own hint line from the code and the
/// fields below; the web UI and the API show the message alone), and never a value the caller
/// sent, such as a reference, a name or a query parameter (a misplaced secret must not come
/// back). Fields that are not in the message are for the front ends, e.g. a stored name for a
/// hint or a link.
#[derive(Debug, Error)]
pub enum AppError {
    #[error("{0}")]
    Validation(ValidationErrors),
    #[error("no connection has that name or id")]
    ConnectionNotFound {
        /// What the caller asked for; never shown by the message.
        reference: String,
    },
    #[error("no OAuth 2.0 client has that name or id")]
    OAuthClientNotFound {
        /// What the caller asked for; never shown by the message.
        reference: String,
    },
    #[error(
        "another connection already has that name (names are compared ignoring case); choose \
         another name"
    )]
    ConnectionNameTaken { name: String },
    #[error(
        "another OAuth 2.0 client already has that name (names are compared ignoring case); \
         choose another name"
    )]
    OAuthClientNameTaken { name: String },
    #[error(
        "the OAuth 2.0 client is used by {} connection(s): {}; change or delete them first",
        connections.len(),
        connections.join(", ")
    )]
    OAuthClientInUse {
        name: String,
        /// The names of the connections using the client (stored data, not request values).
        connections: Vec<String>,
    },
    #[error("{0}")]
    Vault(#[from] VaultError),
    #[error(
        "the secrets in this database were sealed with master key {}, but the master key in use ({active} from {origin}) is a different one; set JIRALINK_MASTER_KEY or JIRALINK_MASTER_KEY_FILE to the key that sealed them (nothing was changed)",
        expected.join(", ")
    )]
    KeyMismatch {
        expected: Vec<String>,
        active: String,
        origin: String,
    },
    #[error(
        "no master key found, but the database already holds secrets sealed with key {}; set JIRALINK_MASTER_KEY or JIRALINK_MASTER_KEY_FILE, or restore {path} from your backup (nothing was changed)",
        expected.join(", ")
    )]
    KeyMissing { expected: Vec<String>, path: String },
    #[error(
        "a stored secret could not be decrypted ({what}); {}",
        if unreadable_token(what) { "authorize the connection again" } else { "enter it again" }
    )]
    SecretUnreadable {
        /// Which secret, e.g. `api_token of connection <id>`.
        what: String,
        /// The resource to edit, as `connection <id>` or `oauth-client <id>`.
        owner: String,
    },
    #[error(
        "the connection is offline since {since}: {reason}; fix the cause, then test the \
         connection to bring it back online"
    )]
    ConnectionOffline {
        name: String,
        reason: String,
        since: String,
    },
    #[error(
        "the authorization is unknown, expired or already used (state did not match); start \
         it again"
    )]
    OAuthStateInvalid,
    #[error("Atlassian did not authorize the connection ({error}); nothing was changed")]
    AuthorizationDenied {
        name: String,
        /// The OAuth 2.0 error code, one of RFC 6749's (anything else reads "unrecognised").
        error: String,
        /// Atlassian's `error_description`, as the browser brought it back: for a front end
        /// that shows it as Atlassian's words (the CLI, filtered), never in the message.
        description: Option<String>,
    },
    #[error(
        "Atlassian could not complete the authorization right now ({error}); nothing was \
         changed; authorize again in a few minutes"
    )]
    OAuthProviderUnavailable {
        name: String,
        error: String,
        description: Option<String>,
    },
    #[error(
        "Atlassian refused the authorization ({error}); check the connection's scopes and the \
         OAuth 2.0 client's settings in the developer console, then authorize again"
    )]
    OAuthProviderError {
        name: String,
        error: String,
        description: Option<String>,
    },
    #[error(
        "the connection cannot refresh its access token: Atlassian refuses the OAuth 2.0 \
         client's ID or secret; correct them in the client's settings"
    )]
    OAuthClientRejected { name: String, client: String },
    #[error(
        "the authorization does not include {site} (granted: {}); authorize again and choose \
         that site on Atlassian's consent page",
        if granted.is_empty() { "none".to_owned() } else { granted.join(", ") }
    )]
    SiteNotGranted {
        name: String,
        site: String,
        granted: Vec<String>,
    },
    #[error(
        "the authorization includes several sites: {}; choose one of them",
        granted.join(", ")
    )]
    SiteChoiceNeeded { name: String, granted: Vec<String> },
    #[error(
        "the connection needs re-authorization: Atlassian no longer accepts its refresh token; \
         authorize it again"
    )]
    ReauthorizationRequired { name: String },
    #[error(
        "the connection is not authorized (it never was, or it was disconnected); authorize it \
         first"
    )]
    ConnectionNeedsAuthorization { name: String },
    #[error("the access token could not be refreshed: {0}")]
    TokenRefresh(#[source] jiralink_atlassian::AtlassianError),
    #[error("the connection changed during the test; test it again")]
    ChangedDuringTest { name: String },
    #[error(
        "the {kind} was changed by someone else since it was read (version {expected}; now \
         {current}); nothing was changed: read it again, make the change again and save"
    )]
    Conflict {
        kind: &'static str,
        expected: u64,
        current: u64,
    },
    #[error("{0}")]
    Authorization(String),
    #[error("no user has that name or id")]
    UserNotFound {
        /// What the caller asked for; never shown by the message.
        reference: String,
    },
    #[error(
        "a user with that name already exists (names are compared ignoring case); choose \
         another name"
    )]
    UsernameTaken { name: String },
    #[error(
        "the user is the last administrator and cannot be deleted; make another user an \
         administrator first"
    )]
    LastAdmin { name: String },
    #[error("the user name or password is wrong")]
    InvalidCredentials,
    #[error(
        "too many failed sign-ins for this user from this address; try again in {minutes} \
         minute(s)"
    )]
    SignInThrottled { minutes: i64 },
    #[error("no API key has that id")]
    ApiKeyNotFound {
        /// What the caller asked for; never shown by the message.
        reference: String,
    },
    #[error("no export has that name or id")]
    ExportNotFound {
        /// What the caller asked for; never shown by the message.
        reference: String,
    },
    #[error("no import has that name or id")]
    ImportNotFound {
        /// What the caller asked for; never shown by the message.
        reference: String,
    },
    #[error(
        "another import already has that name (names are compared ignoring case); choose \
         another name"
    )]
    ImportNameTaken { name: String },
    #[error(
        "a run of this import is already running (started {started}); wait for it to finish \
         or cancel it"
    )]
    ImportRunning {
        name: String,
        /// The running run's id.
        run: String,
        started: String,
    },
    #[error("no flow has that name or id")]
    FlowNotFound {
        /// What the caller asked for; never shown by the message.
        reference: String,
    },
    #[error(
        "another flow already has that name (names are compared ignoring case); choose \
         another name"
    )]
    FlowNameTaken { name: String },
    #[error("a run of this flow is already running (started {started}); wait for it to finish")]
    FlowRunning {
        name: String,
        /// The running run's id.
        run: String,
        started: String,
    },
    #[error("the {what} is used by {}; delete or change them first", users.join(", "))]
    InUse {
        what: &'static str,
        /// What uses it, e.g. `flow "demo-to-acme"` (stored data, not request values).
        users: Vec<String>,
    },
    #[error("the flow cannot start now: {reason}")]
    FlowWaiting { reason: String },
    #[error("no listener has that name or id")]
    ListenerNotFound {
        /// What the caller asked for; never shown by the message.
        reference: String,
    },
    #[error(
        "another listener already has that name (names are compared ignoring case); choose \
         another name"
    )]
    ListenerNameTaken { name: String },
    /// A delivery that could not be verified, or for no listener: the two are not told apart.
    #[error("the delivery was not accepted")]
    DeliveryRefused,
    #[error("this signed delivery was received before; it is not accepted again")]
    DeliveryReplayed,
    #[error("the delivery is larger than {limit} bytes")]
    DeliveryTooLarge { limit: usize },
    #[error("Jira refused to {action}: {message}")]
    WebhookRegistration {
        action: &'static str,
        message: String,
    },
    #[error("no flow run has that id")]
    FlowRunNotFound {
        /// What the caller asked for; never shown by the message.
        reference: String,
    },
    #[error("no export run has that id")]
    RunNotFound {
        /// What the caller asked for; never shown by the message.
        reference: String,
    },
    #[error(
        "another export already has that name (names are compared ignoring case); choose \
         another name"
    )]
    ExportNameTaken { name: String },
    #[error(
        "the connection is used by {}; change or delete them first",
        exports.join(", ")
    )]
    ConnectionInUse {
        name: String,
        /// What uses the connection, e.g. `export "nightly"`, `import "tickets"` (stored
        /// data, not request values).
        exports: Vec<String>,
    },
    #[error(
        "a run of this export is already running (started {started}); wait for it to finish \
         or cancel it"
    )]
    ExportRunning {
        name: String,
        /// The running run's id.
        run: String,
        started: String,
    },
    #[error(
        "the run's output is no longer kept (outputs are kept for exports.output_retention); \
         run the export again"
    )]
    OutputExpired { run: String },
    #[error("the export failed: {message}")]
    ExportFailed {
        /// The engine's stable code, e.g. `jira_error`.
        code: &'static str,
        message: String,
        /// The run recorded as failed, if one was recorded.
        run: Option<String>,
    },
    #[error("the import failed: {message}")]
    ImportFailed {
        /// The engine's stable code, e.g. `jira`.
        code: &'static str,
        message: String,
        /// The run recorded as failed, if one was recorded.
        run: Option<String>,
    },
    #[error("{0}")]
    InvalidInput(String),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Io(String),
    #[error("storage error: {0}")]
    Store(#[source] StoreError),
    #[error("no subscription of this user has that id")]
    SubscriptionNotFound,
    #[error("the user already has this subscription")]
    SubscriptionExists,
    #[error("no notification has that id")]
    NotificationNotFound,
    #[error("the {channel} channel is not set up: {}", channel_fix(.channel))]
    ChannelNotConfigured { channel: &'static str },
}

/// Whether the unreadable secret `what` names (`<field> of <owner>`) is one of a connection's
/// OAuth 2.0 tokens: Atlassian issues those, so the fix is to authorize again, not to type
/// them.
pub fn unreadable_token(what: &str) -> bool {
    what.starts_with("access_token of ") || what.starts_with("refresh_token of ")
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            // Reported like a value that fails to open: the same error, the same fix.
            StoreError::SecretUnreadable { owner, field } => {
                crate::secrets::unreadable(owner.into(), field.as_str())
            }
            other => Self::Store(other),
        }
    }
}

/// The stable error codes, their HTTP status and whether retrying can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    pub code: &'static str,
    pub http_status: u16,
    pub retryable: bool,
}

impl AppError {
    pub fn error_code(&self) -> ErrorCode {
        let (code, http_status, retryable) = match self {
            Self::Validation(_) => ("validation_failed", 400, false),
            Self::ConnectionNotFound { .. } => ("connection_not_found", 404, false),
            Self::OAuthClientNotFound { .. } => ("oauth_client_not_found", 404, false),
            Self::ConnectionNameTaken { .. } => ("connection_name_taken", 409, false),
            Self::OAuthClientNameTaken { .. } => ("oauth_client_name_taken", 409, false),
            Self::OAuthClientInUse { .. } => ("oauth_client_in_use", 409, false),
            Self::Vault(VaultError::UnknownKey { .. })
            | Self::KeyMismatch { .. }
            | Self::KeyMissing { .. } => ("vault_locked", 503, false),
            Self::Vault(_) => ("vault_error", 500, false),
            Self::SecretUnreadable { .. } => ("secret_unreadable", 500, false),
            Self::ConnectionOffline { .. } => ("connection_offline", 409, false),
            Self::OAuthStateInvalid => ("oauth_state_invalid", 400, false),
            Self::AuthorizationDenied { .. } => ("oauth_access_denied", 400, false),
            Self::OAuthProviderUnavailable { .. } => ("oauth_provider_unavailable", 503, true),
            Self::OAuthProviderError { .. } => ("oauth_failed", 502, false),
            Self::OAuthClientRejected { .. } => ("oauth_client_rejected", 409, false),
            Self::SiteNotGranted { .. } => ("oauth_site_not_granted", 400, false),
            Self::SiteChoiceNeeded { .. } => ("oauth_site_choice_needed", 400, false),
            Self::ReauthorizationRequired { .. } => ("reauthorization_required", 409, false),
            Self::ConnectionNeedsAuthorization { .. } => {
                ("connection_needs_authorization", 409, false)
            }
            Self::TokenRefresh(e) => ("oauth_failed", 502, e.is_retryable()),
            Self::ChangedDuringTest { .. } => ("connection_changed", 409, true),
            Self::Conflict { .. } => ("conflict", 409, false),
            Self::Authorization(_) => ("oauth_failed", 502, false),
            Self::UserNotFound { .. } => ("user_not_found", 404, false),
            Self::UsernameTaken { .. } => ("username_taken", 409, false),
            Self::LastAdmin { .. } => ("last_admin", 409, false),
            Self::InvalidCredentials => ("invalid_credentials", 401, false),
            Self::SignInThrottled { .. } => ("sign_in_throttled", 429, true),
            Self::ApiKeyNotFound { .. } => ("api_key_not_found", 404, false),
            Self::ExportNotFound { .. } => ("export_not_found", 404, false),
            Self::RunNotFound { .. } => ("run_not_found", 404, false),
            Self::ExportNameTaken { .. } => ("export_name_taken", 409, false),
            Self::ConnectionInUse { .. } => ("connection_in_use", 409, false),
            Self::ExportRunning { .. } => ("export_running", 409, true),
            // The export's settings no longer fit the site (e.g. a field was renamed): the
            // caller's to fix, like any invalid input.
            Self::ExportFailed {
                code: "invalid_spec",
                ..
            } => ("validation_failed", 400, false),
            Self::ExportFailed {
                code: "delta_state_unreadable",
                ..
            } => ("export_failed", 502, false),
            Self::ExportFailed { .. } => ("export_failed", 502, true),
            Self::FlowNotFound { .. } => ("flow_not_found", 404, false),
            Self::FlowNameTaken { .. } => ("flow_name_taken", 409, false),
            Self::FlowRunning { .. } => ("flow_running", 409, true),
            Self::FlowWaiting { .. } => ("flow_waiting", 409, true),
            Self::InUse { .. } => ("in_use", 409, false),
            Self::ListenerNotFound { .. } => ("listener_not_found", 404, false),
            Self::ListenerNameTaken { .. } => ("listener_name_taken", 409, false),
            Self::DeliveryRefused => ("delivery_refused", 401, false),
            Self::DeliveryReplayed => ("delivery_replayed", 409, false),
            Self::DeliveryTooLarge { .. } => ("delivery_too_large", 413, false),
            Self::WebhookRegistration { .. } => ("webhook_registration_failed", 502, true),
            Self::FlowRunNotFound { .. } => ("flow_run_not_found", 404, false),
            Self::ImportNotFound { .. } => ("import_not_found", 404, false),
            Self::ImportNameTaken { .. } => ("import_name_taken", 409, false),
            Self::ImportRunning { .. } => ("import_running", 409, true),
            Self::ImportFailed {
                code: "invalid_spec",
                ..
            } => ("validation_failed", 400, false),
            Self::ImportFailed { code: "input", .. } => ("validation_failed", 400, false),
            Self::ImportFailed { .. } => ("import_failed", 502, true),
            Self::OutputExpired { .. } => ("output_expired", 410, false),
            Self::InvalidInput(_) => ("validation_failed", 400, false),
            Self::Config(_) => ("invalid_config", 500, false),
            Self::Io(_) => ("io_error", 500, true),
            Self::Store(StoreError::Database(_)) => ("internal", 500, true),
            Self::Store(StoreError::Open { .. }) => ("database_unavailable", 503, true),
            Self::Store(StoreError::Io { .. }) => ("io_error", 500, true),
            Self::Store(StoreError::InvalidUrl(_)) => ("invalid_config", 500, false),
            Self::Store(StoreError::NotEmpty { .. }) => ("database_not_empty", 409, false),
            Self::Store(StoreError::SchemaMismatch { .. }) => ("schema_mismatch", 409, false),
            // A definition a flow started using between the check and the delete.
            Self::Store(StoreError::InUse { .. }) => ("in_use", 409, false),
            Self::Store(_) => ("internal", 500, false),
            Self::SubscriptionNotFound => ("subscription_not_found", 404, false),
            Self::SubscriptionExists => ("subscription_exists", 409, false),
            Self::NotificationNotFound => ("notification_not_found", 404, false),
            Self::ChannelNotConfigured { .. } => ("channel_not_configured", 409, false),
        };
        ErrorCode {
            code,
            http_status,
            retryable,
        }
    }

    pub fn code(&self) -> &'static str {
        self.error_code().code
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// What sets a notification channel up.
fn channel_fix(channel: &str) -> &'static str {
    if channel == "email" {
        "set notifications.smtp.host and notifications.smtp.from in the configuration"
    } else {
        "an administrator sets the webhook's URL on the Notifications page"
    }
}
