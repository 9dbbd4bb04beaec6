//! OAuth 2.0 client resources: one client id / secret pair shared by many connections.

use std::collections::HashMap;

use jiralink_domain::{
    AuditAction, AuditEntry, FieldChange, OAuthClient, OAuthClientContext, OAuthClientDraft,
    OAuthClientId, ResourceKind, SecretEntry, diff_oauth_client,
};
use jiralink_store::{SecretField, SecretOwner, SecretWrite, StoreError};
use jiralink_vault::ClientSecret;
use uuid::Uuid;

use crate::connections::{SecretChange, conflict, secret_change, secret_changes};
use crate::views::OAuthClientView;
use crate::{Actor, App, AppError, AppResult, Saved};

/// The secret an OAuth 2.0 client form carries.
#[derive(Debug, Default)]
pub struct OAuthClientSecrets {
    pub client_secret: Option<ClientSecret>,
}

impl OAuthClientSecrets {
    /// What validation is told about the secret: every save of every front end reaches the
    /// domain's rules (blank is missing, at most `MAX_SECRET_CHARS`) through here.
    fn entry(&self) -> SecretEntry {
        SecretEntry::of(self.client_secret.as_ref().map(ClientSecret::expose))
    }
}

struct KnownClients(Vec<(OAuthClientId, String)>);

impl OAuthClientContext for KnownClients {
    fn client_name_taken(&self, name_key: &str, except: Option<OAuthClientId>) -> bool {
        self.0
            .iter()
            .any(|(id, key)| key == name_key && Some(*id) != except)
    }
}

impl App {
    async fn known_clients(&self) -> AppResult<KnownClients> {
        Ok(KnownClients(
            self.store()
                .list_oauth_clients()
                .await?
                .into_iter()
                .map(|c| (c.id, c.settings.name.key()))
                .collect(),
        ))
    }

    /// Finds an OAuth 2.0 client by id or by name (without regard to case).
    pub async fn find_oauth_client(&self, reference: &str) -> AppResult<OAuthClient> {
        let store = self.store();
        crate::find_by_reference(
            reference,
            async |id: OAuthClientId| store.get_oauth_client(id).await,
            async |name: &str| store.find_oauth_client_by_name(name).await,
            || AppError::OAuthClientNotFound {
                reference: reference.to_owned(),
            },
        )
        .await
    }

    async fn client_view(&self, client: OAuthClient) -> AppResult<OAuthClientView> {
        let used_by = self
            .store()
            .connections_using_client(client.id)
            .await?
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        Ok(OAuthClientView::new(
            client,
            &self.oauth_callback_url(),
            used_by,
        ))
    }

    fn seal_client_secret(
        &self,
        id: OAuthClientId,
        secret: Option<&ClientSecret>,
    ) -> AppResult<Vec<SecretWrite>> {
        secret
            .map(|s| {
                self.seal_secret(
                    SecretOwner::OAuthClient(id),
                    SecretField::ClientSecret,
                    s.expose(),
                )
            })
            .into_iter()
            .collect()
    }

    fn client_audit(
        &self,
        actor: &Actor,
        action: AuditAction,
        client: &OAuthClient,
        changes: Vec<FieldChange>,
    ) -> AuditEntry {
        self.audit_entry_for(
            actor,
            action,
            ResourceKind::OAuthClient,
            client.id.0,
            client.settings.name.as_str(),
            changes,
        )
    }

    pub async fn create_oauth_client(
        &self,
        draft: &OAuthClientDraft,
        secrets: OAuthClientSecrets,
        actor: &Actor,
    ) -> AppResult<Saved<OAuthClientView>> {
        let known = self.known_clients().await?;
        let mut draft = draft.clone();
        draft.client_secret = secrets.entry();
        let settings = draft.validate(&known, None).map_err(AppError::Validation)?;
        let now = self.now();
        let client = OAuthClient {
            id: OAuthClientId::new(),
            settings,
            created_at: now,
            updated_at: now,
            client_secret: None,
            version: 1,
        };
        let writes = self.seal_client_secret(client.id, secrets.client_secret.as_ref())?;
        let mut changes = diff_oauth_client(None, Some(&client.settings));
        changes.extend(secret_changes(&writes, SecretChange::Set));
        let audit = self.client_audit(actor, AuditAction::Create, &client, changes);
        self.store()
            .insert_oauth_client(&client, &writes, &audit)
            .await
            .map_err(|e| client_conflict(e, &client))?;
        let saved = self.store().get_oauth_client(client.id).await?;
        let callback = self.oauth_callback_url();
        Ok(Saved {
            value: self.client_view(saved).await?,
            notices: vec![format!(
                "Register this callback URL in the Atlassian developer console \
                 (your app > Authorization > OAuth 2.0 (3LO) > Callback URL): {callback}"
            )],
        })
    }

    /// Replaces a client's settings, made from the client at `expected_version`
    /// ([`AppError::Conflict`] otherwise). The client secret must be entered again.
    pub async fn update_oauth_client(
        &self,
        reference: &str,
        expected_version: u64,
        draft: &OAuthClientDraft,
        secrets: OAuthClientSecrets,
        actor: &Actor,
    ) -> AppResult<Saved<OAuthClientView>> {
        let old = self.find_oauth_client(reference).await?;
        if old.version != expected_version {
            return Err(conflict("OAuth 2.0 client", expected_version, old.version));
        }
        let known = self.known_clients().await?;
        let mut draft = draft.clone();
        draft.client_secret = secrets.entry();
        let settings = draft
            .validate(&known, Some(old.id))
            .map_err(AppError::Validation)?;
        let client = OAuthClient {
            id: old.id,
            settings,
            created_at: old.created_at,
            updated_at: self.now(),
            client_secret: None,
            version: old.version,
        };
        let writes = self.seal_client_secret(client.id, secrets.client_secret.as_ref())?;
        let mut changes = diff_oauth_client(Some(&old.settings), Some(&client.settings));
        changes.extend(secret_changes(&writes, SecretChange::ReEntered));
        let audit = self.client_audit(actor, AuditAction::Update, &client, changes);
        match self
            .store()
            .update_oauth_client(&client, &writes, &audit)
            .await
        {
            Ok(_) => {}
            Err(StoreError::Changed { .. }) => {
                let current = self.store().get_oauth_client(client.id).await?.version;
                return Err(conflict("OAuth 2.0 client", expected_version, current));
            }
            Err(e) => return Err(client_conflict(e, &client)),
        }
        let mut notices = Vec::new();
        if old.settings.client_id != client.settings.client_id {
            // Tokens were granted to the old app: they cannot be refreshed with the new one.
            let users = self.store().connections_using_client(client.id).await?;
            for (id, name) in &users {
                let owner = jiralink_store::SecretOwner::Connection(*id);
                let mut changes = Vec::new();
                for field in [SecretField::AccessToken, SecretField::RefreshToken] {
                    if self.store().delete_secret(owner, field).await? {
                        changes.push(secret_change(field, SecretChange::Removed));
                    }
                }
                let state = jiralink_domain::ConnectionState::NeedsAuthorization;
                self.store()
                    .set_connection_state(*id, &state, self.now())
                    .await?;
                changes.push(FieldChange {
                    field: "state".to_owned(),
                    before: None,
                    after: Some("needs authorization (client ID changed)".to_owned()),
                    secret: false,
                });
                self.store()
                    .append_audit(&self.audit_entry_for(
                        actor,
                        AuditAction::Update,
                        ResourceKind::Connection,
                        id.0,
                        name,
                        changes,
                    ))
                    .await?;
            }
            if !users.is_empty() {
                notices.push(format!(
                    "The client ID changed: authorize these connections again: {}.",
                    users
                        .iter()
                        .map(|(_, n)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        let saved = self.store().get_oauth_client(client.id).await?;
        Ok(Saved {
            value: self.client_view(saved).await?,
            notices,
        })
    }

    pub async fn list_oauth_clients(&self) -> AppResult<Vec<OAuthClientView>> {
        let mut used: HashMap<OAuthClientId, Vec<String>> = HashMap::new();
        for c in self.store().list_connections().await? {
            if let jiralink_domain::ConnectionAuth::OAuth2 { client, .. } = c.settings.auth {
                used.entry(client)
                    .or_default()
                    .push(c.settings.name.as_str().to_owned());
            }
        }
        let callback = self.oauth_callback_url();
        Ok(self
            .store()
            .list_oauth_clients()
            .await?
            .into_iter()
            .map(|c| {
                let used_by = used.remove(&c.id).unwrap_or_default();
                OAuthClientView::new(c, &callback, used_by)
            })
            .collect())
    }

    pub async fn get_oauth_client(&self, reference: &str) -> AppResult<OAuthClientView> {
        let c = self.find_oauth_client(reference).await?;
        self.client_view(c).await
    }

    /// Deletes a client no connection uses; otherwise says which connections use it.
    pub async fn delete_oauth_client(
        &self,
        reference: &str,
        actor: &Actor,
    ) -> AppResult<OAuthClient> {
        let client = self.find_oauth_client(reference).await?;
        let in_use = self.store().connections_using_client(client.id).await?;
        let in_use_error = |connections: Vec<String>| AppError::OAuthClientInUse {
            name: client.settings.name.as_str().to_owned(),
            connections,
        };
        if !in_use.is_empty() {
            return Err(in_use_error(in_use.into_iter().map(|(_, n)| n).collect()));
        }
        let audit = self.client_audit(actor, AuditAction::Delete, &client, Vec::new());
        match self.store().delete_oauth_client(client.id, &audit).await {
            Ok(()) => Ok(client),
            // A connection started using it between the check and the delete.
            Err(StoreError::InUse { .. }) => {
                let names = self
                    .store()
                    .connections_using_client(client.id)
                    .await?
                    .into_iter()
                    .map(|(_, n)| n)
                    .collect();
                Err(in_use_error(names))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The audit trail of an OAuth 2.0 client, oldest first.
    /// Works for deleted clients too when given their id.
    pub async fn oauth_client_audit(&self, reference: &str) -> AppResult<Vec<AuditEntry>> {
        let id =
            match self.find_oauth_client(reference).await {
                Ok(c) => c.id.0,
                Err(AppError::OAuthClientNotFound { .. }) => reference
                    .trim()
                    .parse::<Uuid>()
                    .map_err(|_| AppError::OAuthClientNotFound {
                        reference: reference.to_owned(),
                    })?,
                Err(e) => return Err(e),
            };
        let entries = self
            .store()
            .list_audit(ResourceKind::OAuthClient, id)
            .await?;
        if entries.is_empty() {
            return Err(AppError::OAuthClientNotFound {
                reference: reference.to_owned(),
            });
        }
        Ok(entries)
    }
}

fn client_conflict(e: StoreError, c: &OAuthClient) -> AppError {
    match e {
        StoreError::Conflict { .. } => AppError::OAuthClientNameTaken {
            name: c.settings.name.as_str().to_owned(),
        },
        other => other.into(),
    }
}
