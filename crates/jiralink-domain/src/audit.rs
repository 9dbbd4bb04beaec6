//! Audit records: who changed what, when, and from where.
//!
//! Invariants:
//! - Values in a [`FieldChange`] are human-readable (labels, names, space-separated scopes),
//!   never ids when a name is known.
//! - Secret fields appear only as "re-entered": `secret` is true and both values are `None`.
//! - Field ids are those of [`Field::as_str`], so an audit entry and a validation error name a
//!   field the same way.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    auth::ConnectionAuth, connection::ConnectionSettings, error::DomainError, ids::OAuthClientId,
    oauth_client::OAuthClientSettings, validation::Field,
};

macro_rules! code_enum {
    (
        $(#[$meta:meta])* $name:ident, $kind:literal {
            $($(#[$vmeta:meta])* $variant:ident => $code:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $code)] $variant),+
        }

        impl $name {
            /// Every value.
            pub const ALL: &[$name] = &[$($name::$variant),+];

            /// The stable code stored and sent on the wire.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $code),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = DomainError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($code => Ok($name::$variant),)+
                    _ => Err(DomainError::UnknownValue {
                        kind: $kind,
                        input: s.to_owned(),
                        expected: $name::ALL
                            .iter()
                            .map(|value| value.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    }),
                }
            }
        }
    };
}

code_enum!(
    /// What was done.
    AuditAction, "audit action" {
        /// A resource was created.
        Create => "create",
        /// A resource's settings or secret changed.
        Update => "update",
        /// A resource was deleted.
        Delete => "delete",
        /// An OAuth 2.0 connection was authorized (or re-authorized).
        Authorize => "authorize",
        /// The vault's master key was rotated and secrets resealed.
        KeyRotate => "key_rotate",
    }
);

code_enum!(
    /// What kind of resource was acted on.
    ResourceKind, "resource kind" {
        /// A connection.
        Connection => "connection",
        /// An OAuth 2.0 client.
        OAuthClient => "oauth_client",
        /// The vault holding the master key (key rotation).
        Vault => "vault",
        /// A user who signs in to the web UI.
        User => "user",
        /// A user's API key for scripts.
        ApiKey => "api_key",
        /// A saved export definition.
        Export => "export",
        /// A saved import definition.
        Import => "import",
    }
);

code_enum!(
    /// Where the change came from.
    AuditSource, "audit source" {
        /// The command line.
        Cli => "cli",
        /// The REST API.
        Api => "api",
        /// The web UI.
        Ui => "ui",
        /// jiralink itself, e.g. marking a connection offline.
        System => "system",
    }
);

/// One field's change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldChange {
    /// The field id, as [`Field::as_str`].
    pub field: String,
    /// The value before; `None` when unset. For a secret only a word such as "set",
    /// never its value.
    pub before: Option<String>,
    /// The value after; `None` when unset. For a secret only a word such as "set",
    /// "re-entered" or "removed", never its value.
    pub after: Option<String>,
    /// True for a secret field that was entered; its values are never recorded.
    pub secret: bool,
}

impl FieldChange {
    /// A change of a non-secret value.
    #[must_use]
    pub fn value(field: Field, before: Option<String>, after: Option<String>) -> Self {
        Self {
            field: field.as_str().to_owned(),
            before,
            after,
            secret: false,
        }
    }

    /// A secret field that was entered (set, re-entered or replaced).
    #[must_use]
    pub fn secret(field: Field) -> Self {
        Self {
            field: field.as_str().to_owned(),
            before: None,
            after: None,
            secret: true,
        }
    }
}

/// One audit record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// The entry's own id.
    pub id: Uuid,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who did it (a user name, or `jiralink` for the system).
    pub actor: String,
    /// Where it came from.
    pub source: AuditSource,
    /// What was done.
    pub action: AuditAction,
    /// What kind of resource.
    pub resource_kind: ResourceKind,
    /// Which resource.
    pub resource_id: Uuid,
    /// The resource's name at the time, so the entry stays readable after a rename or delete.
    pub resource_name: String,
    /// What changed, field by field.
    pub changes: Vec<FieldChange>,
}

/// The field-by-field changes between two versions of a connection's settings; `None` stands
/// for "did not exist" (creation or deletion). `client_names` turns an OAuth 2.0 client id into
/// its name; the id is recorded when it gives none. Secrets are not part of the settings: record
/// a re-entered API token with [`FieldChange::secret`].
#[must_use]
pub fn diff_connection(
    old: Option<&ConnectionSettings>,
    new: Option<&ConnectionSettings>,
    client_names: &dyn Fn(OAuthClientId) -> Option<String>,
) -> Vec<FieldChange> {
    let before = old.map(|s| connection_values(s, client_names));
    let after = new.map(|s| connection_values(s, client_names));
    diff(&CONNECTION_FIELDS, before, after)
}

/// The field-by-field changes between two versions of an OAuth 2.0 client's settings; `None`
/// stands for "did not exist". Record a re-entered client secret with [`FieldChange::secret`].
#[must_use]
pub fn diff_oauth_client(
    old: Option<&OAuthClientSettings>,
    new: Option<&OAuthClientSettings>,
) -> Vec<FieldChange> {
    let values =
        |s: &OAuthClientSettings| vec![Some(s.name.to_string()), Some(s.client_id.clone())];
    diff(
        &[Field::Name, Field::ClientId],
        old.map(values),
        new.map(values),
    )
}

const CONNECTION_FIELDS: [Field; 10] = [
    Field::Name,
    Field::ApiType,
    Field::Subdomain,
    Field::AuthType,
    Field::Username,
    Field::OAuthClient,
    Field::Scopes,
    Field::ConcurrencyLevel,
    Field::RateLimitAutoRecover,
    Field::RateLimitMaxRetries,
];

/// The values of [`CONNECTION_FIELDS`], in that order.
fn connection_values(
    s: &ConnectionSettings,
    client_names: &dyn Fn(OAuthClientId) -> Option<String>,
) -> Vec<Option<String>> {
    let (username, client, scopes) = match &s.auth {
        ConnectionAuth::Basic { username } => (Some(username.to_string()), None, None),
        ConnectionAuth::OAuth2 { client, scopes } => (
            None,
            Some(client_names(*client).unwrap_or_else(|| client.to_string())),
            Some(scopes.to_space_separated()),
        ),
    };
    vec![
        Some(s.name.to_string()),
        Some(s.api_type.label().to_owned()),
        s.subdomain.as_ref().map(ToString::to_string),
        Some(s.auth.auth_type().label().to_owned()),
        username,
        client,
        scopes,
        Some(s.concurrency_level.to_string()),
        Some(s.rate_limit.auto_recover_label().to_owned()),
        Some(s.rate_limit.max_retries.to_string()),
    ]
}

fn diff(
    fields: &[Field],
    before: Option<Vec<Option<String>>>,
    after: Option<Vec<Option<String>>>,
) -> Vec<FieldChange> {
    let before = before.unwrap_or_default();
    let after = after.unwrap_or_default();
    fields
        .iter()
        .enumerate()
        .filter_map(|(i, field)| {
            let old = before.get(i).cloned().flatten();
            let new = after.get(i).cloned().flatten();
            (old != new).then(|| FieldChange::value(*field, old, new))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use time::macros::datetime;

    use super::*;
    use crate::{
        api_type::ApiType, concurrency::ConcurrencyLevel, email::Email, name::ConnectionName,
        rate_limit::RateLimitHandling, scope::ScopeSet, subdomain::Subdomain,
    };

    fn basic() -> ConnectionSettings {
        ConnectionSettings {
            name: ConnectionName::parse("Jira - acme").unwrap(),
            api_type: ApiType::CloudPlatform,
            subdomain: Some(Subdomain::from_label("acme").unwrap()),
            auth: ConnectionAuth::Basic {
                username: Email::parse("fred@example.com").unwrap(),
            },
            concurrency_level: ConcurrencyLevel::default(),
            rate_limit: RateLimitHandling::default(),
        }
    }

    fn change(field: Field, before: Option<&str>, after: Option<&str>) -> FieldChange {
        FieldChange::value(field, before.map(str::to_owned), after.map(str::to_owned))
    }

    fn no_names(_: OAuthClientId) -> Option<String> {
        None
    }

    #[test]
    fn create_lists_every_set_field() {
        let changes = diff_connection(None, Some(&basic()), &no_names);
        assert_eq!(
            changes,
            [
                change(Field::Name, None, Some("Jira - acme")),
                change(
                    Field::ApiType,
                    None,
                    Some("Cloud Platform and Service Management")
                ),
                change(Field::Subdomain, None, Some("acme")),
                change(Field::AuthType, None, Some("Basic")),
                change(Field::Username, None, Some("fred@example.com")),
                change(Field::ConcurrencyLevel, None, Some("10")),
                change(Field::RateLimitAutoRecover, None, Some("on")),
                change(Field::RateLimitMaxRetries, None, Some("4")),
            ]
        );
    }

    #[test]
    fn rate_limit_handling_changes_are_recorded() {
        let mut slower = basic();
        slower.rate_limit = RateLimitHandling {
            auto_recover: false,
            max_retries: 0,
        };
        assert_eq!(
            diff_connection(Some(&basic()), Some(&slower), &no_names),
            [
                change(Field::RateLimitAutoRecover, Some("on"), Some("off")),
                change(Field::RateLimitMaxRetries, Some("4"), Some("0")),
            ]
        );
    }

    #[test]
    fn delete_mirrors_create_and_no_change_is_empty() {
        let deleted = diff_connection(Some(&basic()), None, &no_names);
        assert_eq!(deleted.len(), 8);
        assert!(
            deleted
                .iter()
                .all(|c| c.before.is_some() && c.after.is_none() && !c.secret)
        );
        assert!(diff_connection(Some(&basic()), Some(&basic()), &no_names).is_empty());
    }

    #[test]
    fn switching_to_oauth_names_the_client() {
        let client = OAuthClientId::new();
        let mut oauth = basic();
        oauth.auth = ConnectionAuth::OAuth2 {
            client,
            scopes: ScopeSet::parse(ApiType::CloudPlatform, &["write:jira-work read:jira-work"])
                .unwrap()
                .set,
        };
        let names = move |id: OAuthClientId| (id == client).then(|| "Acme app".to_owned());
        let changes = diff_connection(Some(&basic()), Some(&oauth), &names);
        assert_eq!(
            changes,
            [
                change(Field::AuthType, Some("Basic"), Some("OAuth 2.0")),
                change(Field::Username, Some("fred@example.com"), None),
                change(Field::OAuthClient, None, Some("Acme app")),
                change(Field::Scopes, None, Some("read:jira-work write:jira-work")),
            ]
        );
        let unnamed = diff_connection(None, Some(&oauth), &no_names);
        let client_change = unnamed.iter().find(|c| c.field == "oauth_client").unwrap();
        assert_eq!(client_change.after, Some(client.to_string()));
    }

    #[test]
    fn oauth_client_diff_and_secret_marker() {
        let old = OAuthClientSettings {
            name: ConnectionName::parse("App").unwrap(),
            client_id: "id-1".into(),
        };
        let new = OAuthClientSettings {
            client_id: "id-2".into(),
            ..old.clone()
        };
        assert_eq!(
            diff_oauth_client(Some(&old), Some(&new)),
            [change(Field::ClientId, Some("id-1"), Some("id-2"))]
        );
        let secret = FieldChange::secret(Field::ClientSecret);
        assert_eq!(
            (secret.before, secret.after, secret.secret),
            (None, None, true)
        );
        assert_eq!(secret.field, "client_secret");
    }

    #[test]
    fn codes_round_trip() {
        for action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>(), Ok(*action));
            assert_eq!(
                serde_json::to_string(action).unwrap(),
                format!("\"{action}\"")
            );
        }
        assert_eq!(ResourceKind::OAuthClient.as_str(), "oauth_client");
        assert_eq!(AuditAction::KeyRotate.as_str(), "key_rotate");
        assert_eq!("ui".parse::<AuditSource>(), Ok(AuditSource::Ui));
        let err = "web".parse::<AuditSource>().unwrap_err().to_string();
        assert!(
            err.contains("unknown audit source \"web\"") && err.contains("cli"),
            "{err}"
        );
    }

    #[test]
    fn entry_wire_format() {
        let entry = AuditEntry {
            id: Uuid::nil(),
            at: datetime!(2025-01-02 03:04:05 UTC),
            actor: "alice".into(),
            source: AuditSource::Cli,
            action: AuditAction::Update,
            resource_kind: ResourceKind::Connection,
            resource_id: Uuid::nil(),
            resource_name: "Jira - acme".into(),
            changes: vec![FieldChange::secret(Field::ApiToken)],
        };
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["at"], "2025-01-02T03:04:05Z");
        assert_eq!(json["changes"][0]["field"], "api_token");
        assert_eq!(json["changes"][0]["before"], serde_json::Value::Null);
        assert_eq!(serde_json::from_value::<AuditEntry>(json).unwrap(), entry);
    }
}
