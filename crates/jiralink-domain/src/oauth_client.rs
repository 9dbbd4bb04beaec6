//! OAuth 2.0 client resources: the client ID and secret of an app registered in the Atlassian
//! developer console, shared by any number of connections.
//!
//! Invariants:
//! - Names follow the connection naming rules in a namespace of their own, unique ignoring case.
//! - A client ID is 1–255 printable ASCII characters without whitespace.
//! - The client secret never enters this module; drafts only say whether a usable one was
//!   entered ([`SecretEntry`]), and it must be entered on every save, including edits, as the
//!   form requires it to be re-entered.
//! - The callback URL to register with Atlassian is `<server base>/connection/oauth2callback`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::Url;

use crate::{
    connection::SecretMeta,
    ids::OAuthClientId,
    name::ConnectionName,
    secret_entry::{SecretEntry, too_long_message},
    text::{given, normalised_note},
    validation::{Field, ValidationErrors},
};

/// The most characters a client ID may have.
pub const MAX_CLIENT_ID_CHARS: usize = 255;

/// The path, below the server's base URL, where Atlassian sends users back after consent.
pub const CALLBACK_PATH: &str = "connection/oauth2callback";

/// Raw OAuth 2.0 client settings as typed into a form, CLI flags or a JSON body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuthClientDraft {
    /// The client's name in jiralink.
    pub name: Option<String>,
    /// "Client ID" from the Atlassian developer console.
    pub client_id: Option<String>,
    /// Whether a client secret accompanies the draft ([`SecretEntry::of`] the secret). The
    /// secret goes straight to the vault. Never read from or written to JSON.
    #[serde(skip)]
    pub client_secret: SecretEntry,
}

/// What validating an OAuth 2.0 client needs to know about the others.
pub trait OAuthClientContext {
    /// True when another client (not `except`) already uses this name key
    /// ([`ConnectionName::key`]).
    fn client_name_taken(&self, name_key: &str, except: Option<OAuthClientId>) -> bool;
}

/// The non-secret settings of an OAuth 2.0 client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClientSettings {
    /// The unique (ignoring case) name.
    pub name: ConnectionName,
    /// The client ID; public, unlike the secret.
    pub client_id: String,
}

/// A stored OAuth 2.0 client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClient {
    /// Its id.
    pub id: OAuthClientId,
    /// Its settings.
    pub settings: OAuthClientSettings,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Whether a client secret is stored, and since when.
    pub client_secret: Option<SecretMeta>,
    /// Its version: 1 when created, one more with every edit.
    #[serde(default = "first_version")]
    pub version: u64,
}

const fn first_version() -> u64 {
    1
}

const CLIENT_ID_REQUIRED: &str = "enter the client ID of your OAuth 2.0 integration (Atlassian \
                                  developer console > your app > Settings)";
const CLIENT_SECRET_REQUIRED: &str = "enter the client secret of your OAuth 2.0 integration \
                                      (Atlassian developer console > your app > Settings); it \
                                      must be entered again whenever the client is edited";

impl OAuthClientDraft {
    /// Checks every field and, when all are valid, returns the settings to store.
    ///
    /// `editing` is the client being edited, whose own name does not count as taken.
    ///
    /// # Errors
    /// Every problem found, in form order.
    pub fn validate(
        &self,
        ctx: &dyn OAuthClientContext,
        editing: Option<OAuthClientId>,
    ) -> Result<OAuthClientSettings, ValidationErrors> {
        self.validate_with_notices(ctx, editing)
            .map(|(settings, _)| settings)
    }

    /// Like [`OAuthClientDraft::validate`], also returning what was normalised.
    ///
    /// # Errors
    /// Every problem found, in form order.
    pub fn validate_with_notices(
        &self,
        ctx: &dyn OAuthClientContext,
        editing: Option<OAuthClientId>,
    ) -> Result<(OAuthClientSettings, Vec<String>), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let mut notices = Vec::new();

        let typed_name = self.name.as_deref().unwrap_or_default();
        let name = match ConnectionName::parse(typed_name) {
            Err(message) => {
                errors.add(Field::Name, message);
                None
            }
            Ok(name) => {
                if ctx.client_name_taken(&name.key(), editing) {
                    errors.add(
                        Field::Name,
                        "another OAuth 2.0 client already has this name (names are compared \
                         ignoring case): choose a different name",
                    );
                }
                notices.extend(normalised_note("name", typed_name, name.as_str()));
                Some(name)
            }
        };

        let client_id = match given(self.client_id.as_deref()) {
            None => {
                errors.add(Field::ClientId, CLIENT_ID_REQUIRED);
                None
            }
            Some(id) => match check_client_id(id) {
                Ok(()) => Some(id.to_owned()),
                Err(message) => {
                    errors.add(Field::ClientId, message);
                    None
                }
            },
        };

        match self.client_secret {
            SecretEntry::Missing => errors.add(Field::ClientSecret, CLIENT_SECRET_REQUIRED),
            SecretEntry::TooLong => {
                errors.add(Field::ClientSecret, too_long_message("client secret"));
            }
            SecretEntry::Entered => {}
        }

        let (Some(name), Some(client_id)) = (name, client_id) else {
            debug_assert!(
                !errors.is_empty(),
                "a missing value must have been reported"
            );
            return Err(errors);
        };
        errors.into_result((OAuthClientSettings { name, client_id }, notices))
    }

    /// A draft prefilled from stored settings, for editing. The secret is not provided: it must
    /// be entered again.
    #[must_use]
    pub fn from_settings(settings: &OAuthClientSettings) -> Self {
        Self {
            name: Some(settings.name.to_string()),
            client_id: Some(settings.client_id.clone()),
            client_secret: SecretEntry::Missing,
        }
    }
}

fn check_client_id(id: &str) -> Result<(), String> {
    let len = id.chars().count();
    if len > MAX_CLIENT_ID_CHARS {
        return Err(format!(
            "the client ID is {len} characters long, at most {MAX_CLIENT_ID_CHARS} are allowed: \
             copy it again from the Atlassian developer console"
        ));
    }
    if !id.chars().all(|c| c.is_ascii_graphic()) {
        return Err(
            "the client ID may contain only printable ASCII characters without spaces: \
                    copy it again from the Atlassian developer console"
                .to_owned(),
        );
    }
    Ok(())
}

/// The callback URL to register in the Atlassian developer console for a jiralink server
/// reachable at `server_base`, which may have a path (`https://example.com/jiralink`). Any query
/// or fragment of the base is dropped.
#[must_use]
pub fn callback_url(server_base: &Url) -> Url {
    let mut url = server_base.clone();
    let path = format!(
        "{}/{CALLBACK_PATH}",
        server_base.path().trim_end_matches('/')
    );
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(None);
    url
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn callback_url_appends_one_path_without_double_slashes() {
        let cases = [
            (
                "https://jiralink.example.com",
                "https://jiralink.example.com/connection/oauth2callback",
            ),
            (
                "https://jiralink.example.com/",
                "https://jiralink.example.com/connection/oauth2callback",
            ),
            (
                "https://example.com/tools/jiralink",
                "https://example.com/tools/jiralink/connection/oauth2callback",
            ),
            (
                "https://example.com/tools/jiralink/",
                "https://example.com/tools/jiralink/connection/oauth2callback",
            ),
            (
                "http://127.0.0.1:8080/?x=1#top",
                "http://127.0.0.1:8080/connection/oauth2callback",
            ),
        ];
        for (base, expected) in cases {
            let base = Url::parse(base).unwrap();
            assert_eq!(callback_url(&base).as_str(), expected, "base {base}");
        }
    }

    #[test]
    fn client_id_rules() {
        assert_eq!(check_client_id("AbC123-_.~"), Ok(()));
        assert!(check_client_id(&"a".repeat(255)).is_ok());
        assert!(
            check_client_id(&"a".repeat(256))
                .unwrap_err()
                .contains("at most 255")
        );
        assert!(
            check_client_id("a b")
                .unwrap_err()
                .contains("printable ASCII")
        );
        assert!(
            check_client_id("é")
                .unwrap_err()
                .contains("printable ASCII")
        );
    }

    #[test]
    fn from_settings_requires_the_secret_again() {
        let settings = OAuthClientSettings {
            name: ConnectionName::parse("Atlassian app").unwrap(),
            client_id: "abc".into(),
        };
        let draft = OAuthClientDraft::from_settings(&settings);
        assert_eq!(draft.client_secret, SecretEntry::Missing);
        struct Free;
        impl OAuthClientContext for Free {
            fn client_name_taken(&self, _: &str, _: Option<OAuthClientId>) -> bool {
                false
            }
        }
        let errors = draft.validate(&Free, None).unwrap_err();
        assert_eq!(errors.fields(), [Field::ClientSecret]);
    }
}
