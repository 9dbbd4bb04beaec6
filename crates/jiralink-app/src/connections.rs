//! Creating, editing, showing and deleting connections to Jira.

use std::collections::HashMap;

use jiralink_domain::{
    AuditAction, AuditEntry, AuthType, Connection, ConnectionAuth, ConnectionDraft, ConnectionId,
    ConnectionSettings, ConnectionState, Field, FieldChange, HttpView, OAuthClientId,
    RateLimitHandling, ResourceKind, SecretEntry, ValidationContext, diff_connection,
};
use jiralink_store::{ConnectionUpdate, SecretField, SecretOwner, SecretWrite, StoreError};
use jiralink_vault::ApiToken;
use serde::Serialize;
use uuid::Uuid;

use crate::views::ConnectionView;
use crate::{Actor, App, AppError, AppResult, Saved};

/// The secrets a connection form carries. Never echoed back, never stored in plaintext.
#[derive(Debug, Default)]
pub struct ConnectionSecrets {
    pub api_token: Option<ApiToken>,
}

impl ConnectionSecrets {
    /// What validation is told about the token: every save and test of every front end
    /// reaches the domain's rules (blank is missing, at most `MAX_SECRET_CHARS`) through here.
    fn entry(&self) -> SecretEntry {
        SecretEntry::of(self.api_token.as_ref().map(ApiToken::expose))
    }
}

/// What uses a connection: the exports and imports that read from or write to Jira through it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionUsage {
    /// Exports (flows reading from Jira) using the connection.
    pub exports: Vec<UsageRef>,
    /// Imports (flows writing to Jira) using the connection.
    pub imports: Vec<UsageRef>,
}

/// One export or import, by id and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageRef {
    pub id: String,
    pub name: String,
}

/// The retry policy of a connection's Jira client: the client's defaults, with the
/// connection's rate-limit handling deciding whether rate limits are waited out and how many
/// retries there are.
#[must_use]
pub fn retry_policy(handling: RateLimitHandling) -> jiralink_atlassian::RetryPolicy {
    jiralink_atlassian::RetryPolicy {
        max_retries: u32::from(handling.max_retries),
        recover_rate_limits: handling.auto_recover,
        ..jiralink_atlassian::RetryPolicy::default()
    }
}

/// The fields whose values the HTTP view does not show.
const NOT_IN_HTTP_VIEW: [Field; 2] = [Field::Name, Field::ApiToken];

/// Names and ids known when a draft is validated.
struct Known {
    connections: Vec<(ConnectionId, String)>,
    clients: HashMap<String, OAuthClientId>,
    client_names: HashMap<OAuthClientId, String>,
}

impl ValidationContext for Known {
    fn connection_name_taken(&self, name_key: &str, except: Option<ConnectionId>) -> bool {
        self.connections
            .iter()
            .any(|(id, key)| key == name_key && Some(*id) != except)
    }

    fn resolve_oauth_client(&self, reference: &str) -> Option<OAuthClientId> {
        let reference = reference.trim();
        if let Ok(id) = reference.parse::<OAuthClientId>()
            && self.client_names.contains_key(&id)
        {
            return Some(id);
        }
        let key = jiralink_domain::ConnectionName::parse(reference)
            .map(|n| n.key())
            .ok()?;
        self.clients.get(&key).copied()
    }
}

/// [`Known`] for a draft whose name is not part of what is checked: no name counts as taken.
struct NameNotChecked<'a>(&'a Known);

impl ValidationContext for NameNotChecked<'_> {
    fn connection_name_taken(&self, _: &str, _: Option<ConnectionId>) -> bool {
        false
    }

    fn resolve_oauth_client(&self, reference: &str) -> Option<OAuthClientId> {
        self.0.resolve_oauth_client(reference)
    }
}

impl App {
    async fn known(&self) -> AppResult<Known> {
        let store = self.store();
        let connections = store
            .list_connections()
            .await?
            .into_iter()
            .map(|c| (c.id, c.settings.name.key()))
            .collect();
        let mut clients = HashMap::new();
        let mut client_names = HashMap::new();
        for c in store.list_oauth_clients().await? {
            clients.insert(c.settings.name.key(), c.id);
            client_names.insert(c.id, c.settings.name.as_str().to_owned());
        }
        Ok(Known {
            connections,
            clients,
            client_names,
        })
    }

    /// Finds a connection by id or by name (without regard to case).
    pub async fn find_connection(&self, reference: &str) -> AppResult<Connection> {
        let store = self.store();
        crate::find_by_reference(
            reference,
            async |id: ConnectionId| store.get_connection(id).await,
            async |name: &str| store.find_connection_by_name(name).await,
            || AppError::ConnectionNotFound {
                reference: reference.to_owned(),
            },
        )
        .await
    }

    /// The name of the OAuth 2.0 client a connection uses, if it uses one.
    async fn oauth_client_name(&self, connection: &Connection) -> AppResult<Option<String>> {
        match &connection.settings.auth {
            ConnectionAuth::OAuth2 { client, .. } => Ok(Some(
                self.store()
                    .get_oauth_client(*client)
                    .await?
                    .settings
                    .name
                    .as_str()
                    .to_owned(),
            )),
            ConnectionAuth::Basic { .. } => Ok(None),
        }
    }

    async fn view(&self, connection: Connection) -> AppResult<ConnectionView> {
        let client_name = self.oauth_client_name(&connection).await?;
        Ok(ConnectionView::new(connection, client_name))
    }

    fn seal_api_token(
        &self,
        id: ConnectionId,
        token: Option<&ApiToken>,
    ) -> AppResult<Vec<SecretWrite>> {
        token
            .map(|t| {
                self.seal_secret(
                    SecretOwner::Connection(id),
                    SecretField::ApiToken,
                    t.expose(),
                )
            })
            .into_iter()
            .collect()
    }

    fn audit_entry(
        &self,
        actor: &Actor,
        action: AuditAction,
        connection: &Connection,
        changes: Vec<FieldChange>,
    ) -> AuditEntry {
        self.audit_entry_for(
            actor,
            action,
            ResourceKind::Connection,
            connection.id.0,
            connection.settings.name.as_str(),
            changes,
        )
    }

    /// The stored secrets saving `new` deletes ([`Connection::dropped_secrets`]), for the
    /// audit log.
    async fn secrets_dropped(&self, new: &Connection) -> AppResult<Vec<FieldChange>> {
        let owner = SecretOwner::Connection(new.id);
        let mut changes = Vec::new();
        for secret in new.dropped_secrets() {
            let field = SecretField::from(secret);
            if self.store().get_secret(owner, field).await?.is_some() {
                changes.push(secret_change(field, SecretChange::Removed));
            }
        }
        Ok(changes)
    }

    /// Validates a draft as saving it would, without saving anything.
    pub(crate) async fn validate_draft(
        &self,
        draft: &ConnectionDraft,
        secrets: &ConnectionSecrets,
        editing: Option<ConnectionId>,
    ) -> AppResult<jiralink_domain::ValidConnection> {
        let known = self.known().await?;
        let mut draft = draft.clone();
        draft.api_token = secrets.entry();
        draft
            .validate(&known, editing)
            .map_err(AppError::Validation)
    }

    /// Validates and saves a new connection. Every problem is reported at once.
    pub async fn create_connection(
        &self,
        draft: &ConnectionDraft,
        secrets: ConnectionSecrets,
        actor: &Actor,
    ) -> AppResult<Saved<ConnectionView>> {
        let known = self.known().await?;
        let mut draft = draft.clone();
        draft.api_token = secrets.entry();
        let valid = draft.validate(&known, None).map_err(AppError::Validation)?;
        let now = self.now();
        let state = match valid.settings.auth {
            ConnectionAuth::Basic { .. } => ConnectionState::Untested,
            ConnectionAuth::OAuth2 { .. } => ConnectionState::NeedsAuthorization,
        };
        let connection = Connection {
            id: ConnectionId::new(),
            settings: valid.settings,
            state,
            state_changed_at: Some(now),
            created_at: now,
            updated_at: now,
            api_token: None,
            cloud_id: None,
            last_tested_at: None,
            debug_until: None,
            version: 1,
        };
        let writes = self.seal_api_token(connection.id, secrets.api_token.as_ref())?;
        let names = |id: OAuthClientId| known.client_names.get(&id).cloned();
        let mut changes = diff_connection(None, Some(&connection.settings), &names);
        changes.extend(secret_changes(&writes, SecretChange::Set));
        let audit = self.audit_entry(actor, AuditAction::Create, &connection, changes);
        self.store()
            .insert_connection(&connection, &writes, &audit)
            .await
            .map_err(|e| name_conflict(e, &connection))?;
        let saved = self.store().get_connection(connection.id).await?;
        tracing::info!(connection = %saved.id, "connection created");
        Ok(Saved {
            value: self.view(saved).await?,
            notices: valid.notices,
        })
    }

    /// The settings of a saved connection as a draft to edit. Secrets are never part of
    /// it: the API token must be entered again.
    pub async fn connection_draft(
        &self,
        reference: &str,
    ) -> AppResult<(Connection, ConnectionDraft)> {
        let connection = self.find_connection(reference).await?;
        let client_name = self.oauth_client_name(&connection).await?;
        let draft = ConnectionDraft::from_settings(&connection.settings, client_name.as_deref());
        Ok((connection, draft))
    }

    /// Replaces a connection's settings with a complete draft, made from the connection at
    /// `expected_version` ([`AppError::Conflict`], with nothing changed, when it is at another
    /// one by now). As on the reference product's form, a Basic connection's API token must be
    /// entered again on every edit.
    pub async fn update_connection(
        &self,
        reference: &str,
        expected_version: u64,
        draft: &ConnectionDraft,
        secrets: ConnectionSecrets,
        actor: &Actor,
    ) -> AppResult<Saved<ConnectionView>> {
        let old = self.find_connection(reference).await?;
        if old.version != expected_version {
            return Err(conflict("connection", expected_version, old.version));
        }
        let known = self.known().await?;
        let mut draft = draft.clone();
        draft.api_token = secrets.entry();
        let valid = draft
            .validate(&known, Some(old.id))
            .map_err(AppError::Validation)?;
        let now = self.now();
        let reauthorize = needs_reauthorization(&old, &valid.settings);
        // The state moves only when the edit invalidates what was known; otherwise whatever
        // tests and refreshes record meanwhile stays.
        let new_state = match (&valid.settings.auth, reauthorize) {
            (ConnectionAuth::OAuth2 { .. }, true) => Some(ConnectionState::NeedsAuthorization),
            (ConnectionAuth::OAuth2 { .. }, false) => None,
            // New credentials: whatever was known about the old ones no longer holds.
            (ConnectionAuth::Basic { .. }, _) => Some(ConnectionState::Untested),
        };
        // The cloud id belongs to the site: another subdomain is another site.
        let clear_cloud_id = valid.settings.subdomain != old.settings.subdomain;
        let connection = Connection {
            settings: valid.settings,
            state: new_state.clone().unwrap_or_else(|| old.state.clone()),
            updated_at: now,
            cloud_id: if clear_cloud_id {
                None
            } else {
                old.cloud_id.clone()
            },
            ..old.clone()
        };
        let writes = self.seal_api_token(connection.id, secrets.api_token.as_ref())?;
        let names = |id: OAuthClientId| known.client_names.get(&id).cloned();
        let mut changes = diff_connection(Some(&old.settings), Some(&connection.settings), &names);
        changes.extend(secret_changes(&writes, SecretChange::ReEntered));
        changes.extend(self.secrets_dropped(&connection).await?);
        let audit = self.audit_entry(actor, AuditAction::Update, &connection, changes);
        let update = ConnectionUpdate {
            connection: &connection,
            set_state: new_state.is_some(),
            clear_cloud_id,
        };
        match self
            .store()
            .update_connection(&update, &writes, &audit)
            .await
        {
            Ok(_) => {}
            Err(StoreError::Changed { .. }) => {
                let current = self.store().get_connection(old.id).await?.version;
                return Err(conflict("connection", expected_version, current));
            }
            Err(e) => return Err(name_conflict(e, &connection)),
        }
        let mut notices = valid.notices;
        if reauthorize && matches!(old.settings.auth, ConnectionAuth::OAuth2 { .. }) {
            notices.push(
                "The OAuth 2.0 client, scopes or site changed: authorize the connection again \
                 so Atlassian grants the new access."
                    .to_owned(),
            );
        }
        let saved = self.store().get_connection(connection.id).await?;
        tracing::info!(connection = %saved.id, "connection updated");
        Ok(Saved {
            value: self.view(saved).await?,
            notices,
        })
    }

    pub async fn list_connections(&self) -> AppResult<Vec<ConnectionView>> {
        let clients: HashMap<OAuthClientId, String> = self
            .store()
            .list_oauth_clients()
            .await?
            .into_iter()
            .map(|c| (c.id, c.settings.name.as_str().to_owned()))
            .collect();
        Ok(self
            .store()
            .list_connections()
            .await?
            .into_iter()
            .map(|c| {
                let name = match &c.settings.auth {
                    ConnectionAuth::OAuth2 { client, .. } => clients.get(client).cloned(),
                    ConnectionAuth::Basic { .. } => None,
                };
                ConnectionView::new(c, name)
            })
            .collect())
    }

    pub async fn get_connection(&self, reference: &str) -> AppResult<ConnectionView> {
        let c = self.find_connection(reference).await?;
        self.view(c).await
    }

    /// Deletes a connection and its secrets; refused (`connection_in_use`, naming them) while
    /// exports use it.
    pub async fn delete_connection(&self, reference: &str, actor: &Actor) -> AppResult<Connection> {
        let connection = self.find_connection(reference).await?;
        self.refuse_if_used(&connection).await?;
        let audit = self.audit_entry(actor, AuditAction::Delete, &connection, Vec::new());
        match self.store().delete_connection(connection.id, &audit).await {
            Ok(()) => {}
            // An export saved since the check above: the database refused the delete.
            Err(StoreError::Conflict { .. }) => {
                self.refuse_if_used(&connection).await?;
                return Err(AppError::ConnectionInUse {
                    name: connection.settings.name.as_str().to_owned(),
                    exports: Vec::new(),
                });
            }
            Err(e) => return Err(e.into()),
        }
        self.forget_limiter(connection.id);
        tracing::info!(connection = %connection.id, "connection deleted");
        Ok(connection)
    }

    async fn refuse_if_used(&self, connection: &Connection) -> AppResult<()> {
        let usage = self
            .connections_usage(&[connection.id])
            .await?
            .remove(&connection.id)
            .unwrap_or_default();
        if usage.exports.is_empty() && usage.imports.is_empty() {
            return Ok(());
        }
        let users = usage
            .exports
            .into_iter()
            .map(|e| format!("export {:?}", e.name))
            .chain(
                usage
                    .imports
                    .into_iter()
                    .map(|i| format!("import {:?}", i.name)),
            )
            .collect();
        Err(AppError::ConnectionInUse {
            name: connection.settings.name.as_str().to_owned(),
            exports: users,
        })
    }

    /// The exports and imports that use a connection (404 for an unknown connection).
    pub async fn connection_usage(&self, reference: &str) -> AppResult<ConnectionUsage> {
        let id = self.find_connection(reference).await?.id;
        let mut usage = self.connections_usage(&[id]).await?;
        Ok(usage.remove(&id).unwrap_or_default())
    }

    /// The exports and imports that use each of the given connections, answered at once (the
    /// connections list asks this for all its rows); every id given has an entry.
    ///
    /// Exports and imports come from the store, by name. This is the one place usage is
    /// computed: every front end (the REST API's
    /// `usage` route, the list's "used by" column, the refused delete) reads it from here.
    pub async fn connections_usage(
        &self,
        ids: &[ConnectionId],
    ) -> AppResult<HashMap<ConnectionId, ConnectionUsage>> {
        let mut usage: HashMap<ConnectionId, ConnectionUsage> = ids
            .iter()
            .map(|id| (*id, ConnectionUsage::default()))
            .collect();
        if ids.is_empty() {
            return Ok(usage);
        }
        let mut exports = self.store().exports_using(ids).await?;
        exports.sort_by_key(|a| a.2.to_lowercase());
        for (connection, id, name) in exports {
            if let Some(entry) = usage.get_mut(&connection) {
                entry.exports.push(UsageRef {
                    id: id.to_string(),
                    name,
                });
            }
        }
        let mut imports = self.store().imports_using(ids).await?;
        imports.sort_by_key(|a| a.2.to_lowercase());
        for (connection, id, name) in imports {
            if let Some(entry) = usage.get_mut(&connection) {
                entry.imports.push(UsageRef {
                    id: id.to_string(),
                    name,
                });
            }
        }
        Ok(usage)
    }

    /// The HTTP settings the connection's simple form resolves to.
    pub async fn connection_http_view(&self, reference: &str) -> AppResult<HttpView> {
        let connection = self.find_connection(reference).await?;
        self.http_view_of(&connection.settings).await
    }

    /// The HTTP settings a draft that is not saved resolves to. It is validated as saving it
    /// would be, against the same OAuth 2.0 clients; but neither its name nor its API token
    /// shows in the view, so neither is needed for it, and problems with them are not
    /// reported.
    pub async fn draft_http_view(&self, draft: &ConnectionDraft) -> AppResult<HttpView> {
        let mut draft = draft.clone();
        draft.name = Some("HTTP view".to_owned());
        let basic = draft
            .auth_type
            .as_deref()
            .and_then(|t| t.parse::<AuthType>().ok())
            == Some(AuthType::Basic);
        draft.api_token = if basic {
            SecretEntry::Entered
        } else {
            SecretEntry::Missing
        };
        let known = self.known().await?;
        match draft.validate(&NameNotChecked(&known), None) {
            Ok(valid) => self.http_view_of(&valid.settings).await,
            Err(errors) => {
                let shown: Vec<_> = errors
                    .into_iter()
                    .filter(|e| !NOT_IN_HTTP_VIEW.contains(&e.field))
                    .collect();
                Err(AppError::Validation(shown.into()))
            }
        }
    }

    /// The HTTP view of `settings`, with their OAuth 2.0 client's ID and the callback URL.
    async fn http_view_of(&self, settings: &ConnectionSettings) -> AppResult<HttpView> {
        let client_id = match &settings.auth {
            ConnectionAuth::OAuth2 { client, .. } => Some(
                self.store()
                    .get_oauth_client(*client)
                    .await?
                    .settings
                    .client_id,
            ),
            ConnectionAuth::Basic { .. } => None,
        };
        let callback = self.oauth_callback_url();
        Ok(HttpView::resolve(
            settings,
            client_id.as_deref(),
            &self.config().atlassian,
            Some(&callback),
            None,
        ))
    }

    /// The audit trail of a connection, oldest first. Works for deleted connections too
    /// when given their id.
    pub async fn connection_audit(&self, reference: &str) -> AppResult<Vec<AuditEntry>> {
        let id = match self.find_connection(reference).await {
            Ok(c) => c.id.0,
            Err(AppError::ConnectionNotFound { .. }) => match reference.trim().parse::<Uuid>() {
                Ok(id) => id,
                Err(_) => {
                    return Err(AppError::ConnectionNotFound {
                        reference: reference.to_owned(),
                    });
                }
            },
            Err(e) => return Err(e),
        };
        let entries = self
            .store()
            .list_audit(ResourceKind::Connection, id)
            .await?;
        if entries.is_empty() {
            return Err(AppError::ConnectionNotFound {
                reference: reference.to_owned(),
            });
        }
        Ok(entries)
    }
}

/// Whether an edit invalidates the grant: the tokens belong to one client, one set of
/// scopes and one site (API type and subdomain).
fn needs_reauthorization(old: &Connection, new: &jiralink_domain::ConnectionSettings) -> bool {
    matches!(new.auth, ConnectionAuth::OAuth2 { .. })
        && !crate::connection_test::authorization_changes(&old.settings, new).is_empty()
}

/// How a secret changed, for the audit log (the words, never the values).
#[derive(Debug, Clone, Copy)]
pub(crate) enum SecretChange {
    Set,
    ReEntered,
    Removed,
}

pub(crate) fn secret_change(field: SecretField, change: SecretChange) -> FieldChange {
    let (before, after) = match change {
        SecretChange::Set => (None, "set"),
        SecretChange::ReEntered => (Some("set"), "re-entered"),
        SecretChange::Removed => (Some("set"), "removed"),
    };
    FieldChange {
        field: field.as_str().to_owned(),
        before: before.map(str::to_owned),
        after: Some(after.to_owned()),
        secret: true,
    }
}

pub(crate) fn secret_changes(writes: &[SecretWrite], change: SecretChange) -> Vec<FieldChange> {
    writes
        .iter()
        .map(|w| secret_change(w.field, change))
        .collect()
}

/// An edit made from a version that is no longer the stored one.
pub(crate) fn conflict(kind: &'static str, expected: u64, current: u64) -> AppError {
    AppError::Conflict {
        kind,
        expected,
        current,
    }
}

fn name_conflict(e: jiralink_store::StoreError, c: &Connection) -> AppError {
    match e {
        jiralink_store::StoreError::Conflict { .. } => AppError::ConnectionNameTaken {
            name: c.settings.name.as_str().to_owned(),
        },
        jiralink_store::StoreError::NotFound { kind } if kind != "connection" => {
            AppError::OAuthClientNotFound {
                reference: match &c.settings.auth {
                    ConnectionAuth::OAuth2 { client, .. } => client.to_string(),
                    ConnectionAuth::Basic { .. } => String::new(),
                },
            }
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn rate_limit_handling_sets_the_retry_policy() {
        let default = retry_policy(RateLimitHandling::default());
        assert_eq!(default, jiralink_atlassian::RetryPolicy::default());
        let off = retry_policy(RateLimitHandling {
            auto_recover: false,
            max_retries: 7,
        });
        assert_eq!((off.max_retries, off.recover_rate_limits), (7, false));
        assert_eq!(off.base_delay, Duration::from_secs(2));
        let none = retry_policy(RateLimitHandling {
            auto_recover: true,
            max_retries: 0,
        });
        assert_eq!(none.max_retries, 0);
    }
}
