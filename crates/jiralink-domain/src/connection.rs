//! Connections to Jira: raw form input, its validation, and the stored resource.
//!
//! Invariants:
//! - A [`ConnectionDraft`] is untrusted input from any front end. [`ConnectionDraft::validate`]
//!   is the only way to a [`ConnectionSettings`] from user input and reports every problem at
//!   once, each naming its field and what to do.
//! - Valid settings are consistent with their API type: Cloud Platform connections have a
//!   subdomain and use Basic or OAuth 2.0; Customer Service Management connections have no
//!   subdomain (the site is chosen when authorizing) and use OAuth 2.0 only. OAuth 2.0
//!   connections reference a known OAuth 2.0 client and at least one catalogue scope.
//! - Fields that do not apply to the chosen API type and auth type are errors, never dropped
//!   silently, so nobody believes a setting took effect when it did not.
//! - Messages name the field and the rule, never the value typed (a secret pasted into the
//!   wrong field must not come back), and no front end's commands: the web UI, the REST API
//!   and the CLI all show them. Unknown scopes are named by their position.
//! - No secret enters this module: the draft only says whether a usable API token was entered
//!   ([`SecretEntry`]; an empty or whitespace-only one is missing, one over
//!   [`MAX_SECRET_CHARS`](crate::MAX_SECRET_CHARS) is refused), and a stored [`Connection`]
//!   only knows when its token was last set ([`SecretMeta`]).

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::{
    api_type::ApiType,
    auth::{AuthType, ConnectionAuth},
    concurrency::ConcurrencyLevel,
    email::Email,
    ids::{ConnectionId, OAuthClientId},
    name::ConnectionName,
    rate_limit::RateLimitHandling,
    scope::{OFFLINE_ACCESS_NOTICE, ScopeSet},
    secret_entry::{SecretEntry, too_long_message},
    subdomain::Subdomain,
    text::{given, normalised_note},
    validation::{Field, ValidationErrors},
};

/// Raw connection settings as typed into a form, CLI flags or a JSON body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionDraft {
    /// "Name your connection".
    pub name: Option<String>,
    /// "API type": an id, label or alias accepted by [`ApiType`]'s `FromStr`.
    pub api_type: Option<String>,
    /// "Subdomain", in any form [`Subdomain::parse`] accepts.
    pub subdomain: Option<String>,
    /// "Auth type": `basic` or `oauth2` (or an alias).
    pub auth_type: Option<String>,
    /// "Username": the Atlassian account e-mail (Basic auth).
    pub username: Option<String>,
    /// Whether an API token accompanies the draft ([`SecretEntry::of`] the token). The token
    /// itself goes straight to the vault. Never read from or written to JSON: whoever holds
    /// the token sets it.
    #[serde(skip)]
    pub api_token: SecretEntry,
    /// The name or id of an OAuth 2.0 client resource.
    pub oauth_client: Option<String>,
    /// Scope names; each entry may hold several, separated by spaces or commas.
    pub scopes: Vec<String>,
    /// "Concurrency level", 1–50; 10 when absent.
    pub concurrency_level: Option<String>,
    /// Rate-limit handling "Auto-recover": `on`/`off` (or `true`/`false`); on when absent.
    pub rate_limit_auto_recover: Option<String>,
    /// Rate-limit handling "Max retries", 0–10; 4 when absent.
    pub rate_limit_max_retries: Option<String>,
}

/// What validation needs to know about other resources.
pub trait ValidationContext {
    /// True when another connection (not `except`) already uses this name key
    /// ([`ConnectionName::key`]).
    fn connection_name_taken(&self, name_key: &str, except: Option<ConnectionId>) -> bool;

    /// The OAuth 2.0 client a user referred to, by name (ignoring case) or by id. `reference`
    /// arrives trimmed.
    fn resolve_oauth_client(&self, reference: &str) -> Option<OAuthClientId>;
}

/// Validated settings plus notes for the user (normalisations, what is always requested).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidConnection {
    /// The settings to store.
    pub settings: ConnectionSettings,
    /// Things the user should know about how the input was read.
    pub notices: Vec<String>,
}

/// The non-secret settings of a connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionSettings {
    /// The unique (ignoring case) name.
    pub name: ConnectionName,
    /// Which Atlassian API family the connection talks to.
    pub api_type: ApiType,
    /// The site, for Cloud Platform connections.
    pub subdomain: Option<Subdomain>,
    /// How the connection authenticates, without secrets.
    pub auth: ConnectionAuth,
    /// How many requests may be in flight at once.
    pub concurrency_level: ConcurrencyLevel,
    /// Whether requests refused for the rate limit are waited out and sent again. Settings
    /// stored before it existed read as the defaults.
    #[serde(default)]
    pub rate_limit: RateLimitHandling,
}

const API_TYPE_REQUIRED: &str = "choose an API type: cloud-platform (Cloud Platform and Service \
                                 Management) or customer-service-management (Customer Service \
                                 Management)";
const SUBDOMAIN_REQUIRED: &str =
    "enter your Jira subdomain: for https://demo.atlassian.net enter demo";
const CSM_NO_SUBDOMAIN: &str = "Customer Service Management connections take no subdomain, \
                                because the site is chosen when the connection is authorized: \
                                leave it out";
const AUTH_TYPE_REQUIRED: &str = "choose an auth type: basic (Atlassian account e-mail and API \
                                  token) or oauth2 (an OAuth 2.0 client)";
const CSM_OAUTH_ONLY: &str = "Customer Service Management connections use OAuth 2.0 only: set \
                              the auth type to oauth2, or leave it out";
const USERNAME_REQUIRED: &str = "enter the e-mail address of your Atlassian account, such as \
                                 name@example.com";
const API_TOKEN_REQUIRED: &str = "enter your Jira API token (Atlassian account settings > \
                                  Security > API tokens); it must be entered again whenever the \
                                  connection is edited";
const USERNAME_NOT_OAUTH: &str = "a username is used only with Basic auth: remove it (OAuth 2.0 \
                                  connections sign in through the browser when authorized)";
const API_TOKEN_NOT_OAUTH: &str =
    "an API token is used only with Basic auth: do not send one for an OAuth 2.0 connection";
const CLIENT_NOT_BASIC: &str = "an OAuth 2.0 client is used only with OAuth 2.0: remove it, or \
                                set the auth type to oauth2";
const SCOPES_NOT_BASIC: &str =
    "scopes are used only with OAuth 2.0: remove them, or set the auth type to oauth2";
const CLIENT_REQUIRED: &str = "choose the OAuth 2.0 client that holds the client ID and secret \
                               from the Atlassian developer console; create the client first if \
                               there is none";

impl ConnectionDraft {
    /// Checks every field and, when all are valid, returns the settings to store.
    ///
    /// `editing` is the connection being edited, whose own name does not count as taken.
    ///
    /// # Errors
    /// Every problem found, in form order.
    pub fn validate(
        &self,
        ctx: &dyn ValidationContext,
        editing: Option<ConnectionId>,
    ) -> Result<ValidConnection, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let mut notices = Vec::new();

        let name = self.check_name(ctx, editing, &mut errors, &mut notices);

        let api = match given(self.api_type.as_deref()) {
            None => {
                errors.add(Field::ApiType, API_TYPE_REQUIRED);
                None
            }
            Some(raw) => raw
                .parse::<ApiType>()
                .map_err(|e| errors.add(Field::ApiType, e.to_string()))
                .ok(),
        };

        let subdomain = self.check_subdomain(api, &mut errors, &mut notices);

        let requested_auth = given(self.auth_type.as_deref()).and_then(|raw| {
            raw.parse::<AuthType>()
                .map_err(|e| errors.add(Field::AuthType, e.to_string()))
                .ok()
        });
        let auth_type = match api {
            Some(ApiType::CloudPlatform) => {
                if given(self.auth_type.as_deref()).is_none() {
                    errors.add(Field::AuthType, AUTH_TYPE_REQUIRED);
                }
                requested_auth
            }
            Some(ApiType::CustomerServiceManagement) => {
                if requested_auth == Some(AuthType::Basic) {
                    errors.add(Field::AuthType, CSM_OAUTH_ONLY);
                }
                // The only auth type there is, so the OAuth 2.0 fields are checked regardless.
                Some(AuthType::OAuth2)
            }
            None => requested_auth,
        };

        let auth = match auth_type {
            Some(AuthType::Basic) => self.check_basic(&mut errors, &mut notices),
            Some(AuthType::OAuth2) => self.check_oauth2(api, ctx, &mut errors, &mut notices),
            None => {
                self.check_standalone_auth_fields(api, ctx, &mut errors);
                None
            }
        };

        let concurrency_level = match given(self.concurrency_level.as_deref()) {
            None => ConcurrencyLevel::default(),
            Some(raw) => ConcurrencyLevel::parse(raw).unwrap_or_else(|message| {
                errors.add(Field::ConcurrencyLevel, message);
                ConcurrencyLevel::default()
            }),
        };

        let rate_limit = RateLimitHandling::parse(
            self.rate_limit_auto_recover.as_deref(),
            self.rate_limit_max_retries.as_deref(),
        )
        .unwrap_or_else(|(recover, retries)| {
            if let Some(message) = recover {
                errors.add(Field::RateLimitAutoRecover, message);
            }
            if let Some(message) = retries {
                errors.add(Field::RateLimitMaxRetries, message);
            }
            RateLimitHandling::default()
        });

        let (Some(name), Some(api_type), Some(auth)) = (name, api, auth) else {
            debug_assert!(
                !errors.is_empty(),
                "a missing value must have been reported"
            );
            return Err(errors);
        };
        let settings = ConnectionSettings {
            name,
            api_type,
            subdomain,
            auth,
            concurrency_level,
            rate_limit,
        };
        errors.into_result(ValidConnection { settings, notices })
    }

    /// A draft prefilled from stored settings, for editing. The API token is not provided: it
    /// must be entered again. `oauth_client_name` is shown instead of the client's id when known.
    #[must_use]
    pub fn from_settings(settings: &ConnectionSettings, oauth_client_name: Option<&str>) -> Self {
        let (username, oauth_client, scopes) = match &settings.auth {
            ConnectionAuth::Basic { username } => (Some(username.to_string()), None, Vec::new()),
            ConnectionAuth::OAuth2 { client, scopes } => (
                None,
                Some(oauth_client_name.map_or_else(|| client.to_string(), str::to_owned)),
                scopes.iter().map(str::to_owned).collect(),
            ),
        };
        Self {
            name: Some(settings.name.to_string()),
            api_type: Some(settings.api_type.id().to_owned()),
            subdomain: settings.subdomain.as_ref().map(ToString::to_string),
            auth_type: Some(settings.auth.auth_type().id().to_owned()),
            username,
            api_token: SecretEntry::Missing,
            oauth_client,
            scopes,
            concurrency_level: Some(settings.concurrency_level.to_string()),
            rate_limit_auto_recover: Some(settings.rate_limit.auto_recover_label().to_owned()),
            rate_limit_max_retries: Some(settings.rate_limit.max_retries.to_string()),
        }
    }

    fn check_name(
        &self,
        ctx: &dyn ValidationContext,
        editing: Option<ConnectionId>,
        errors: &mut ValidationErrors,
        notices: &mut Vec<String>,
    ) -> Option<ConnectionName> {
        let typed = self.name.as_deref().unwrap_or_default();
        match ConnectionName::parse(typed) {
            Err(message) => {
                errors.add(Field::Name, message);
                None
            }
            Ok(name) => {
                if ctx.connection_name_taken(&name.key(), editing) {
                    errors.add(
                        Field::Name,
                        "another connection already has this name (names are compared \
                         ignoring case): choose a different name",
                    );
                }
                notices.extend(normalised_note("name", typed, name.as_str()));
                Some(name)
            }
        }
    }

    fn check_subdomain(
        &self,
        api: Option<ApiType>,
        errors: &mut ValidationErrors,
        notices: &mut Vec<String>,
    ) -> Option<Subdomain> {
        let typed = self.subdomain.as_deref().filter(|s| !s.trim().is_empty());
        match (api, typed) {
            (Some(ApiType::CustomerServiceManagement), Some(_)) => {
                errors.add(Field::Subdomain, CSM_NO_SUBDOMAIN);
                None
            }
            (Some(ApiType::CloudPlatform), None) => {
                errors.add(Field::Subdomain, SUBDOMAIN_REQUIRED);
                None
            }
            (_, Some(typed)) => match Subdomain::parse(typed) {
                Ok(parsed) => {
                    notices.extend(parsed.note);
                    Some(parsed.value)
                }
                Err(message) => {
                    errors.add(Field::Subdomain, message);
                    None
                }
            },
            (_, None) => None,
        }
    }

    fn check_basic(
        &self,
        errors: &mut ValidationErrors,
        notices: &mut Vec<String>,
    ) -> Option<ConnectionAuth> {
        let username = match self.username.as_deref().filter(|s| !s.trim().is_empty()) {
            None => {
                errors.add(Field::Username, USERNAME_REQUIRED);
                None
            }
            Some(typed) => match Email::parse(typed) {
                Ok(email) => {
                    notices.extend(normalised_note("username", typed, email.as_str()));
                    Some(email)
                }
                Err(message) => {
                    errors.add(Field::Username, message);
                    None
                }
            },
        };
        match self.api_token {
            SecretEntry::Missing => errors.add(Field::ApiToken, API_TOKEN_REQUIRED),
            SecretEntry::TooLong => errors.add(Field::ApiToken, too_long_message("API token")),
            SecretEntry::Entered => {}
        }
        if given(self.oauth_client.as_deref()).is_some() {
            errors.add(Field::OAuthClient, CLIENT_NOT_BASIC);
        }
        if self.has_scopes() {
            errors.add(Field::Scopes, SCOPES_NOT_BASIC);
        }
        username.map(|username| ConnectionAuth::Basic { username })
    }

    fn check_oauth2(
        &self,
        api: Option<ApiType>,
        ctx: &dyn ValidationContext,
        errors: &mut ValidationErrors,
        notices: &mut Vec<String>,
    ) -> Option<ConnectionAuth> {
        if given(self.username.as_deref()).is_some() {
            errors.add(Field::Username, USERNAME_NOT_OAUTH);
        }
        if self.api_token.is_sent() {
            errors.add(Field::ApiToken, API_TOKEN_NOT_OAUTH);
        }
        let client = match given(self.oauth_client.as_deref()) {
            None => {
                errors.add(Field::OAuthClient, CLIENT_REQUIRED);
                None
            }
            Some(reference) => resolve_client(ctx, reference, errors),
        };
        let scopes = match api {
            Some(api) => self.check_scopes(api, errors),
            None => {
                self.check_scopes_any_api(errors);
                None
            }
        };
        notices.push(OFFLINE_ACCESS_NOTICE.to_owned());
        Some(ConnectionAuth::OAuth2 {
            client: client?,
            scopes: scopes?,
        })
    }

    /// With no usable auth type, checks the fields that can be judged on their own.
    fn check_standalone_auth_fields(
        &self,
        api: Option<ApiType>,
        ctx: &dyn ValidationContext,
        errors: &mut ValidationErrors,
    ) {
        if let Some(typed) = given(self.username.as_deref())
            && let Err(message) = Email::parse(typed)
        {
            errors.add(Field::Username, message);
        }
        if let Some(reference) = given(self.oauth_client.as_deref()) {
            resolve_client(ctx, reference, errors);
        }
        match api {
            Some(api) => {
                if let Err(unknown) = ScopeSet::parse(api, &self.scopes) {
                    errors.add(
                        Field::Scopes,
                        unknown_scopes_message(api, &self.scopes, &unknown),
                    );
                }
            }
            None => self.check_scopes_any_api(errors),
        }
    }

    fn check_scopes(&self, api: ApiType, errors: &mut ValidationErrors) -> Option<ScopeSet> {
        match ScopeSet::parse(api, &self.scopes) {
            Ok(parsed) if parsed.set.is_empty() => {
                errors.add(
                    Field::Scopes,
                    format!("choose at least one scope of the {} catalogue", api.label()),
                );
                None
            }
            Ok(parsed) => Some(parsed.set),
            Err(unknown) => {
                errors.add(
                    Field::Scopes,
                    unknown_scopes_message(api, &self.scopes, &unknown),
                );
                None
            }
        }
    }

    /// Without an API type only names that no catalogue offers are certain mistakes.
    fn check_scopes_any_api(&self, errors: &mut ValidationErrors) {
        let mut unknown_everywhere: Option<Vec<String>> = None;
        for api in ApiType::ALL {
            let unknown = ScopeSet::parse(api, &self.scopes).err().unwrap_or_default();
            unknown_everywhere = Some(match unknown_everywhere {
                None => unknown,
                Some(so_far) => so_far
                    .into_iter()
                    .filter(|name| unknown.contains(name))
                    .collect(),
            });
        }
        let unknown = unknown_everywhere.unwrap_or_default();
        if !unknown.is_empty() {
            let (listed, verb) = numbered(&positions(&self.scopes, &unknown));
            errors.add(
                Field::Scopes,
                format!(
                    "{listed} (counting from 1) {verb} in no API type's catalogue; choose \
                     scopes from the catalogue of the connection's API type"
                ),
            );
        }
    }

    fn has_scopes(&self) -> bool {
        self.scopes.iter().any(|s| !s.trim().is_empty())
    }
}

fn resolve_client(
    ctx: &dyn ValidationContext,
    reference: &str,
    errors: &mut ValidationErrors,
) -> Option<OAuthClientId> {
    let found = ctx.resolve_oauth_client(reference);
    if found.is_none() {
        errors.add(
            Field::OAuthClient,
            "no OAuth 2.0 client has this name or id: check the name, or create the client \
             first",
        );
    }
    found
}

/// Names the scopes of `inputs` that are `unknown` by their position among all the names
/// typed, and says which other API type offers them.
fn unknown_scopes_message(api: ApiType, inputs: &[String], unknown: &[String]) -> String {
    let (listed, verb) = numbered(&positions(inputs, unknown));
    let mut message = format!(
        "{listed} (counting from 1) {verb} not offered for {}",
        api.label()
    );
    for (position, name) in ScopeSet::tokens(inputs).enumerate() {
        if !unknown.iter().any(|u| u == name) {
            continue;
        }
        if let Some(other) = crate::scope::api_types_offering(name)
            .into_iter()
            .find(|other| *other != api)
        {
            message.push_str(&format!(
                "; scope {} belongs to the {} API type",
                position + 1,
                other.label()
            ));
        }
    }
    message.push_str(&format!(
        "; choose scopes from the {} catalogue",
        api.label()
    ));
    message
}

/// The 1-based positions of the `unknown` names among the scope names typed.
fn positions(inputs: &[String], unknown: &[String]) -> Vec<usize> {
    ScopeSet::tokens(inputs)
        .enumerate()
        .filter(|(_, name)| unknown.iter().any(|u| u == name))
        .map(|(i, _)| i + 1)
        .collect()
}

/// "scope 2" and "is", or "scopes 2, 3 and 5" and "are".
fn numbered(positions: &[usize]) -> (String, &'static str) {
    let numbers: Vec<String> = positions.iter().map(ToString::to_string).collect();
    match numbers.as_slice() {
        [one] => (format!("scope {one}"), "is"),
        [rest @ .., last] => (format!("scopes {} and {last}", rest.join(", ")), "are"),
        [] => ("scopes".to_owned(), "are"),
    }
}

/// Whether a connection is known to work.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConnectionState {
    /// Saved but never tested.
    Untested,
    /// The last test or request succeeded.
    Online,
    /// The last test or request failed; flows using the connection do not run.
    Offline {
        /// Why, in words for the user (never a secret or a raw response body).
        reason: String,
    },
    /// An OAuth 2.0 connection without a usable grant: someone must authorize it.
    NeedsAuthorization,
}

impl ConnectionState {
    /// The state of a new connection: OAuth 2.0 connections cannot work until authorized.
    #[must_use]
    pub fn initial(auth: &ConnectionAuth) -> Self {
        match auth {
            ConnectionAuth::Basic { .. } => Self::Untested,
            ConnectionAuth::OAuth2 { .. } => Self::NeedsAuthorization,
        }
    }

    /// A short label for lists.
    #[must_use]
    pub const fn label(&self) -> &'static str {
        match self {
            Self::Untested => "Untested",
            Self::Online => "Online",
            Self::Offline { .. } => "Offline",
            Self::NeedsAuthorization => "Needs authorization",
        }
    }

    /// Whether flows may use the connection.
    #[must_use]
    pub const fn is_online(&self) -> bool {
        matches!(self, Self::Online)
    }
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Offline { reason } => write!(f, "Offline: {reason}"),
            other => f.write_str(other.label()),
        }
    }
}

/// The only thing ever shown about a stored secret: that it is set, and since when.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretMeta {
    /// When the secret was last entered.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl fmt::Display for SecretMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.updated_at.format(&Rfc3339) {
            Ok(at) => write!(f, "set, updated {at}"),
            Err(_) => write!(f, "set, updated {}", self.updated_at),
        }
    }
}

/// A stored connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    /// Its id.
    pub id: ConnectionId,
    /// Its settings.
    pub settings: ConnectionSettings,
    /// Whether it is known to work.
    pub state: ConnectionState,
    /// When `state` last changed; `None` until it first does.
    #[serde(with = "time::serde::rfc3339::option")]
    pub state_changed_at: Option<OffsetDateTime>,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When its settings last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Whether an API token is stored (Basic auth), and since when.
    pub api_token: Option<SecretMeta>,
    /// The Atlassian cloud id of the site, once a test or an authorization found it.
    #[serde(default)]
    pub cloud_id: Option<String>,
    /// When the connection was last tested; `None` until it is.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_tested_at: Option<OffsetDateTime>,
    /// Until when the connection debugger records the connection's requests.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub debug_until: Option<OffsetDateTime>,
    /// Its version: 1 when created, one more with every edit of its settings. An edit names
    /// the version it was made from, so two people editing at once cannot overwrite each
    /// other unknowingly.
    #[serde(default = "first_version")]
    pub version: u64,
}

const fn first_version() -> u64 {
    1
}

/// A secret a connection may hold (in the vault, never here).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionSecret {
    /// A Basic connection's API token.
    ApiToken,
    /// An OAuth 2.0 connection's access token.
    AccessToken,
    /// An OAuth 2.0 connection's refresh token.
    RefreshToken,
}

impl ConnectionSecret {
    /// Every secret a connection may hold.
    pub const ALL: [Self; 3] = [Self::ApiToken, Self::AccessToken, Self::RefreshToken];

    /// Its stable name (part of each sealed value's AAD: never renamed).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ApiToken => "api_token",
            Self::AccessToken => "access_token",
            Self::RefreshToken => "refresh_token",
        }
    }
}

impl Connection {
    /// The secrets the connection keeps: a Basic connection its API token; an OAuth 2.0
    /// connection the tokens of its grant, unless it needs authorizing again, when nothing of
    /// the grant given for its old client, scopes or site may survive. Every other secret is
    /// deleted when the connection is saved.
    #[must_use]
    pub fn kept_secrets(&self) -> &'static [ConnectionSecret] {
        match (&self.settings.auth, &self.state) {
            (ConnectionAuth::Basic { .. }, _) => &[ConnectionSecret::ApiToken],
            (ConnectionAuth::OAuth2 { .. }, ConnectionState::NeedsAuthorization) => &[],
            (ConnectionAuth::OAuth2 { .. }, _) => &[
                ConnectionSecret::AccessToken,
                ConnectionSecret::RefreshToken,
            ],
        }
    }

    /// The secrets saving the connection deletes: those it does not [keep](Self::kept_secrets).
    pub fn dropped_secrets(&self) -> impl Iterator<Item = ConnectionSecret> + '_ {
        ConnectionSecret::ALL
            .into_iter()
            .filter(|s| !self.kept_secrets().contains(s))
    }

    /// A new connection created at `now`, in its [initial](ConnectionState::initial) state.
    #[must_use]
    pub fn new(
        id: ConnectionId,
        settings: ConnectionSettings,
        now: OffsetDateTime,
        api_token: Option<SecretMeta>,
    ) -> Self {
        Self {
            id,
            state: ConnectionState::initial(&settings.auth),
            settings,
            state_changed_at: None,
            created_at: now,
            updated_at: now,
            api_token,
            cloud_id: None,
            last_tested_at: None,
            debug_until: None,
            version: first_version(),
        }
    }

    /// Moves to `state` at `now`; returns whether anything changed, so callers record only
    /// real transitions.
    pub fn set_state(&mut self, state: ConnectionState, now: OffsetDateTime) -> bool {
        if self.state == state {
            return false;
        }
        self.state = state;
        self.state_changed_at = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use time::macros::datetime;

    use super::*;

    struct Nothing;

    impl ValidationContext for Nothing {
        fn connection_name_taken(&self, _: &str, _: Option<ConnectionId>) -> bool {
            false
        }
        fn resolve_oauth_client(&self, _: &str) -> Option<OAuthClientId> {
            None
        }
    }

    fn basic_settings() -> ConnectionSettings {
        ConnectionDraft {
            name: Some("Jira - acme".into()),
            api_type: Some("cloud".into()),
            subdomain: Some("acme".into()),
            auth_type: Some("basic".into()),
            username: Some("fred@example.com".into()),
            api_token: SecretEntry::Entered,
            ..ConnectionDraft::default()
        }
        .validate(&Nothing, None)
        .unwrap()
        .settings
    }

    #[test]
    fn empty_draft_names_every_required_field() {
        let errors = ConnectionDraft::default()
            .validate(&Nothing, None)
            .unwrap_err();
        assert_eq!(errors.fields(), [Field::Name, Field::ApiType]);
    }

    #[test]
    fn from_settings_round_trips_except_the_token() {
        let settings = basic_settings();
        let mut draft = ConnectionDraft::from_settings(&settings, None);
        assert_eq!(draft.api_token, SecretEntry::Missing);
        let errors = draft.validate(&Nothing, None).unwrap_err();
        assert_eq!(errors.fields(), [Field::ApiToken]);
        draft.api_token = SecretEntry::Entered;
        assert_eq!(draft.validate(&Nothing, None).unwrap().settings, settings);
    }

    #[test]
    fn settings_wire_format() {
        let value = serde_json::to_value(basic_settings()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "name": "Jira - acme",
                "api_type": "cloud-platform",
                "subdomain": "acme",
                "auth": {"type": "basic", "username": "fred@example.com"},
                "concurrency_level": 10,
                "rate_limit": {"auto_recover": true, "max_retries": 4},
            })
        );
        assert_eq!(
            serde_json::from_value::<ConnectionSettings>(value.clone()).unwrap(),
            basic_settings()
        );
        // Settings stored before rate-limit handling existed load with its defaults.
        let mut old = value;
        old.as_object_mut().unwrap().remove("rate_limit");
        assert_eq!(
            serde_json::from_value::<ConnectionSettings>(old).unwrap(),
            basic_settings()
        );
    }

    #[test]
    fn rate_limit_handling_is_validated_and_round_trips() {
        let draft = ConnectionDraft {
            rate_limit_auto_recover: Some("off".into()),
            rate_limit_max_retries: Some("7".into()),
            ..ConnectionDraft::from_settings(&basic_settings(), None)
        };
        let mut with_token = draft.clone();
        with_token.api_token = SecretEntry::Entered;
        let settings = with_token.validate(&Nothing, None).unwrap().settings;
        assert_eq!(
            settings.rate_limit,
            RateLimitHandling {
                auto_recover: false,
                max_retries: 7
            }
        );
        assert_eq!(ConnectionDraft::from_settings(&settings, None), draft);

        let bad = ConnectionDraft {
            rate_limit_auto_recover: Some("sometimes".into()),
            rate_limit_max_retries: Some("11".into()),
            ..with_token
        };
        let errors = bad.validate(&Nothing, None).unwrap_err();
        assert_eq!(
            errors.fields(),
            [Field::RateLimitAutoRecover, Field::RateLimitMaxRetries]
        );
    }

    #[test]
    fn new_connection_state_depends_on_auth() {
        let now = datetime!(2025-01-02 03:04:05 UTC);
        let mut conn = Connection::new(ConnectionId::new(), basic_settings(), now, None);
        assert_eq!(conn.state, ConnectionState::Untested);
        assert_eq!(
            (conn.created_at, conn.updated_at, conn.state_changed_at),
            (now, now, None)
        );
        let later = datetime!(2025-01-02 04:00:00 UTC);
        assert!(conn.set_state(ConnectionState::Online, later));
        assert!(!conn.set_state(ConnectionState::Online, now));
        assert_eq!(conn.state_changed_at, Some(later));
        let oauth = ConnectionAuth::OAuth2 {
            client: OAuthClientId::new(),
            scopes: ScopeSet::new(),
        };
        assert_eq!(
            ConnectionState::initial(&oauth),
            ConnectionState::NeedsAuthorization
        );
    }

    #[test]
    fn state_wire_format_and_display() {
        let offline = ConnectionState::Offline {
            reason: "Jira answered 401".into(),
        };
        assert_eq!(
            serde_json::to_value(&offline).unwrap(),
            serde_json::json!({"status": "offline", "reason": "Jira answered 401"})
        );
        assert_eq!(
            serde_json::to_value(ConnectionState::NeedsAuthorization).unwrap(),
            serde_json::json!({"status": "needs_authorization"})
        );
        assert_eq!(offline.to_string(), "Offline: Jira answered 401");
        assert_eq!(
            ConnectionState::NeedsAuthorization.to_string(),
            "Needs authorization"
        );
        assert!(ConnectionState::Online.is_online() && !offline.is_online());
    }

    #[test]
    fn secret_meta_shows_only_when() {
        let meta = SecretMeta {
            updated_at: datetime!(2025-01-02 03:04:05 UTC),
        };
        assert_eq!(meta.to_string(), "set, updated 2025-01-02T03:04:05Z");
        assert_eq!(
            serde_json::to_value(meta).unwrap(),
            serde_json::json!({"updated_at": "2025-01-02T03:04:05Z"})
        );
    }

    #[test]
    fn connection_round_trips_through_json() {
        let now = datetime!(2025-01-02 03:04:05 UTC);
        let conn = Connection::new(
            ConnectionId::new(),
            basic_settings(),
            now,
            Some(SecretMeta { updated_at: now }),
        );
        let json = serde_json::to_string(&conn).unwrap();
        assert_eq!(serde_json::from_str::<Connection>(&json).unwrap(), conn);
    }
}
