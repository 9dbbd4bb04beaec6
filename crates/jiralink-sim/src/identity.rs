//! Sites, users, API tokens and OAuth apps: the simulated Atlassian identity directory.
//!
//! Everything derived from the seed is deterministic: a site's cloud id is
//! `uuid(sha256(seed, "site", subdomain))`, an account id is 24 hex digits of
//! `sha256(seed, "account", email)`, and the sample credentials printed by `jiralink sim` are
//! the same for the same seed.
//!
//! Default directory (any seed):
//!
//! | Site | Members |
//! |---|---|
//! | `demo` (also served at `/`) | alice (admin), bob, carol (inactive) |
//! | `acme` | alice |
//!
//! Alice owns a classic API token, a scoped API token and the sample OAuth app's grants.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

/// The default site, also served at the root.
pub const DEFAULT_SITE: &str = "demo";
/// The second site, for "site not granted" and site-choice tests.
pub const SECOND_SITE: &str = "acme";

/// Derives 32 bytes from the seed and a label.
pub fn derive(seed: u64, label: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"jiralink-sim/v1\0");
    hasher.update(seed.to_be_bytes());
    hasher.update(label.as_bytes());
    hasher.finalize().into()
}

/// Deterministic cloud id of a site.
pub fn cloud_id(seed: u64, subdomain: &str) -> Uuid {
    let bytes = derive(seed, &format!("site\0{subdomain}"));
    let mut b = [0u8; 16];
    b.copy_from_slice(&bytes[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid()
}

/// Deterministic Atlassian-style account id (24 lower-case hex digits).
pub fn account_id(seed: u64, email: &str) -> String {
    let bytes = derive(seed, &format!("account\0{}", email.to_ascii_lowercase()));
    bytes[..12].iter().map(|b| format!("{b:02x}")).collect()
}

fn secret_from(seed: u64, label: &str, prefix: &str) -> String {
    let bytes = derive(seed, label);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A Jira Cloud site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    /// `demo` in `demo.atlassian.net`.
    pub subdomain: String,
    /// The site's cloud id.
    pub cloud_id: Uuid,
    /// Display name (`serverTitle`, accessible-resources `name`).
    pub name: String,
    /// Account ids of the members.
    pub members: BTreeSet<String>,
}

/// An Atlassian account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Account id.
    pub account_id: String,
    /// E-mail address (login for Basic auth).
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// IANA time zone, e.g. `Australia/Sydney`.
    pub time_zone: String,
    /// Locale, e.g. `en_US`.
    pub locale: String,
    /// Whether the account is active.
    pub active: bool,
    /// Jira groups.
    pub groups: Vec<String>,
}

/// What an API token may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ApiTokenKind {
    /// Classic token: Basic auth on the site host and the gateway, not scope-limited.
    Classic,
    /// Scoped token: Basic auth on the gateway only, limited to `scopes`.
    Scoped {
        /// Granted scopes.
        scopes: BTreeSet<String>,
    },
}

/// An API token. The secret is never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenRecord {
    /// Non-secret id.
    pub id: String,
    /// Owner.
    pub account_id: String,
    /// The token value.
    pub secret: String,
    /// Classic or scoped.
    pub kind: ApiTokenKind,
    /// Expiry; `None` never expires.
    pub expires_at: Option<OffsetDateTime>,
    /// Free text.
    pub label: String,
}

impl fmt::Debug for ApiTokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiTokenRecord")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("secret", &"[redacted]")
            .field("kind", &self.kind)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A 3LO app registered in the developer console.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthApp {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
    /// Name shown on the consent page.
    pub name: String,
    /// Registered callback URLs (exact match).
    pub callbacks: Vec<String>,
    /// Scopes added to the app; `None` allows every known scope.
    pub scopes: Option<BTreeSet<String>>,
}

impl fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("name", &self.name)
            .field("callbacks", &self.callbacks)
            .finish()
    }
}

/// Sites, users, tokens and apps.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Directory {
    /// Sites by subdomain.
    pub sites: BTreeMap<String, Site>,
    /// Users by account id.
    pub users: BTreeMap<String, User>,
    /// API tokens by id.
    pub tokens: BTreeMap<String, ApiTokenRecord>,
    /// OAuth apps by client id.
    pub apps: BTreeMap<String, OAuthApp>,
}

/// Sample credentials of the default directory, as printed by `jiralink sim`.
#[derive(Clone, PartialEq, Eq)]
pub struct SampleCredentials {
    /// Alice's e-mail address.
    pub email: String,
    /// Alice's classic API token.
    pub api_token: String,
    /// Alice's scoped API token.
    pub scoped_api_token: String,
    /// Scopes of the scoped token.
    pub scoped_token_scopes: Vec<String>,
    /// Sample OAuth client id.
    pub oauth_client_id: String,
    /// Sample OAuth client secret.
    pub oauth_client_secret: String,
    /// Registered callback URLs.
    pub oauth_callbacks: Vec<String>,
}

impl fmt::Debug for SampleCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SampleCredentials")
            .field("email", &self.email)
            .field("oauth_client_id", &self.oauth_client_id)
            .field("oauth_callbacks", &self.oauth_callbacks)
            .finish_non_exhaustive()
    }
}

/// Granular scopes of the sample scoped token.
pub const SAMPLE_SCOPED_TOKEN_SCOPES: &[&str] = &[
    "read:application-role:jira",
    "read:avatar:jira",
    "read:group:jira",
    "read:user:jira",
    "read:issue-details:jira",
    "read:audit-log:jira",
    "read:field-configuration:jira",
    "read:issue-meta:jira",
    "read:issue:jira",
    "write:issue:jira",
];

impl Directory {
    /// The default directory for `seed`.
    pub fn seeded(seed: u64, callbacks: &[String]) -> (Self, SampleCredentials) {
        let mut dir = Self::default();
        let people = [
            (
                "alice@example.com",
                "Alice Admin",
                "Australia/Sydney",
                true,
                true,
            ),
            (
                "bob@example.com",
                "Bob Builder",
                "Europe/Berlin",
                true,
                false,
            ),
            (
                "carol@example.com",
                "Carol Former",
                "America/New_York",
                false,
                false,
            ),
        ];
        for (email, name, tz, active, admin) in people {
            let mut groups = vec!["jira-software-users".to_owned()];
            if admin {
                groups.insert(0, "jira-administrators".to_owned());
            }
            dir.add_user(User {
                account_id: account_id(seed, email),
                email: email.to_owned(),
                display_name: name.to_owned(),
                time_zone: tz.to_owned(),
                locale: "en_US".to_owned(),
                active,
                groups,
            });
        }
        let alice = account_id(seed, "alice@example.com");
        dir.add_site(
            seed,
            DEFAULT_SITE,
            "Demo",
            &[
                &alice,
                &account_id(seed, "bob@example.com"),
                &account_id(seed, "carol@example.com"),
            ],
        );
        dir.add_site(seed, SECOND_SITE, "Acme Corp", &[&alice]);

        let api_token = secret_from(seed, "token\0alice\0classic", "ATATT3x");
        let scoped = secret_from(seed, "token\0alice\0scoped", "ATATT3s");
        let scoped_scopes: BTreeSet<String> = SAMPLE_SCOPED_TOKEN_SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        dir.tokens.insert(
            "tok-alice-classic".to_owned(),
            ApiTokenRecord {
                id: "tok-alice-classic".to_owned(),
                account_id: alice.clone(),
                secret: api_token.clone(),
                kind: ApiTokenKind::Classic,
                expires_at: None,
                label: "sample classic token".to_owned(),
            },
        );
        dir.tokens.insert(
            "tok-alice-scoped".to_owned(),
            ApiTokenRecord {
                id: "tok-alice-scoped".to_owned(),
                account_id: alice,
                secret: scoped.clone(),
                kind: ApiTokenKind::Scoped {
                    scopes: scoped_scopes.clone(),
                },
                expires_at: None,
                label: "sample scoped token".to_owned(),
            },
        );
        let client_id: String = derive(seed, "oauth\0client_id")[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let client_secret = secret_from(seed, "oauth\0client_secret", "ATOA");
        dir.apps.insert(
            client_id.clone(),
            OAuthApp {
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
                name: "jiralink sample app".to_owned(),
                callbacks: callbacks.to_vec(),
                scopes: None,
            },
        );
        let creds = SampleCredentials {
            email: "alice@example.com".to_owned(),
            api_token,
            scoped_api_token: scoped,
            scoped_token_scopes: scoped_scopes.into_iter().collect(),
            oauth_client_id: client_id,
            oauth_client_secret: client_secret,
            oauth_callbacks: callbacks.to_vec(),
        };
        (dir, creds)
    }

    /// Adds or replaces a user.
    pub fn add_user(&mut self, user: User) {
        self.users.insert(user.account_id.clone(), user);
    }

    /// Adds a site with a deterministic cloud id.
    pub fn add_site(&mut self, seed: u64, subdomain: &str, name: &str, members: &[&str]) -> Site {
        let site = Site {
            subdomain: subdomain.to_owned(),
            cloud_id: cloud_id(seed, subdomain),
            name: name.to_owned(),
            members: members.iter().map(|m| (*m).to_owned()).collect(),
        };
        self.sites.insert(subdomain.to_owned(), site.clone());
        site
    }

    /// Finds a site by cloud id.
    pub fn site_by_cloud_id(&self, id: &str) -> Option<&Site> {
        self.sites
            .values()
            .find(|s| s.cloud_id.to_string().eq_ignore_ascii_case(id))
    }

    /// Finds a user by e-mail (case-insensitive).
    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.users
            .values()
            .find(|u| u.email.eq_ignore_ascii_case(email))
    }

    /// Finds the token with this secret owned by the user with this e-mail.
    pub fn token_for(&self, email: &str, secret: &str) -> Option<(&User, &ApiTokenRecord)> {
        let user = self.user_by_email(email)?;
        let token = self
            .tokens
            .values()
            .find(|t| t.account_id == user.account_id && constant_time_eq(&t.secret, secret))?;
        Some((user, token))
    }
}

/// Compares secrets without an early exit on the first differing byte.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_per_seed() {
        assert_eq!(cloud_id(1, "demo"), cloud_id(1, "demo"));
        assert_ne!(cloud_id(1, "demo"), cloud_id(2, "demo"));
        assert_ne!(cloud_id(1, "demo"), cloud_id(1, "acme"));
        let id = account_id(1, "alice@example.com");
        assert_eq!(id.len(), 24);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(id, account_id(1, "ALICE@example.com"));
    }

    #[test]
    fn seeded_directory_has_two_sites_and_sample_credentials() {
        let (dir, creds) = Directory::seeded(1, &["http://cb".to_owned()]);
        assert_eq!(dir.sites.len(), 2);
        let (user, token) = dir
            .token_for(&creds.email, &creds.api_token)
            .expect("classic token");
        assert_eq!(user.display_name, "Alice Admin");
        assert_eq!(token.kind, ApiTokenKind::Classic);
        assert!(dir.token_for("bob@example.com", &creds.api_token).is_none());
        let (again, _) = Directory::seeded(1, &[]);
        assert_eq!(again.sites, dir.sites);
    }

    #[test]
    fn debug_output_hides_secrets() {
        let (dir, creds) = Directory::seeded(1, &[]);
        let all = format!("{dir:?} {creds:?}");
        assert!(!all.contains(&creds.api_token));
        assert!(!all.contains(&creds.oauth_client_secret));
        assert!(!all.contains(&creds.scoped_api_token));
    }
}
