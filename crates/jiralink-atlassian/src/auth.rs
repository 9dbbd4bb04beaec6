//! Credentials and the `Authorization` header.
//!
//! Basic auth sends `base64(email:api_token)`; OAuth 2.0 sends `Bearer <access token>` from a
//! [`TokenSource`], which is asked for a token before every attempt and told when Jira rejected
//! one (401), so it can refresh once. Header values are marked sensitive, so the HTTP stack
//! never prints them, and the [`Masker`] of each request knows every form of the credential.

use std::{fmt, sync::Arc};

use async_trait::async_trait;
use base64::Engine as _;
use jiralink_domain::Email;
use jiralink_vault::{AccessToken, ApiToken, Zeroizing};
use reqwest::header::HeaderValue;

use crate::{error::AtlassianError, observe::Masker};

/// Supplies OAuth 2.0 access tokens.
#[async_trait]
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// A currently valid access token (refreshing first if it is about to expire).
    async fn access_token(&self) -> Result<AccessToken, AtlassianError>;

    /// Jira answered 401 to `token`. Returns `true` when a different token is now available
    /// (the request is then sent once more), `false` when there is none (the 401 stands).
    async fn rejected(&self, token: &AccessToken) -> Result<bool, AtlassianError>;
}

/// A fixed access token that cannot be refreshed.
pub struct StaticToken(AccessToken);

impl StaticToken {
    /// Wraps `token`.
    #[must_use]
    pub fn new(token: AccessToken) -> Self {
        Self(token)
    }
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticToken([redacted])")
    }
}

#[async_trait]
impl TokenSource for StaticToken {
    async fn access_token(&self) -> Result<AccessToken, AtlassianError> {
        Ok(AccessToken::new(self.0.expose()))
    }

    async fn rejected(&self, _token: &AccessToken) -> Result<bool, AtlassianError> {
        Ok(false)
    }
}

/// How requests authenticate.
pub enum Credentials {
    /// An Atlassian account e-mail and API token.
    Basic {
        /// The account e-mail.
        email: Email,
        /// The API token.
        token: ApiToken,
    },
    /// OAuth 2.0 bearer tokens.
    Bearer(Arc<dyn TokenSource>),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic { email, .. } => f
                .debug_struct("Basic")
                .field("email", &email.as_str())
                .field("token", &"[redacted]")
                .finish(),
            Self::Bearer(source) => f.debug_tuple("Bearer").field(source).finish(),
        }
    }
}

/// A ready `Authorization` header and the masker that knows its secrets.
pub(crate) struct Authorization {
    pub(crate) header: HeaderValue,
    pub(crate) masker: Masker,
    /// The bearer token used, to report a 401 against.
    pub(crate) bearer: Option<AccessToken>,
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Authorization([redacted])")
    }
}

impl Credentials {
    /// Basic credentials.
    #[must_use]
    pub fn basic(email: Email, token: ApiToken) -> Self {
        Self::Basic { email, token }
    }

    /// The header for the next attempt.
    pub(crate) async fn authorization(&self) -> Result<Authorization, AtlassianError> {
        match self {
            Self::Basic { email, token } => {
                let pair = Zeroizing::new(format!("{}:{}", email.as_str(), token.expose()));
                let encoded = Zeroizing::new(
                    base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()),
                );
                let value = Zeroizing::new(format!("Basic {}", encoded.as_str()));
                let masker = Masker::new([token.expose(), encoded.as_str(), pair.as_str()]);
                Ok(Authorization {
                    header: sensitive(&value)?,
                    masker,
                    bearer: None,
                })
            }
            Self::Bearer(source) => {
                let token = source.access_token().await?;
                if token.is_empty() {
                    return Err(AtlassianError::Credentials {
                        message: "the token source returned an empty access token: authorize \
                                  the connection again"
                            .to_owned(),
                    });
                }
                let value = Zeroizing::new(format!("Bearer {}", token.expose()));
                let masker = Masker::new([token.expose()]);
                Ok(Authorization {
                    header: sensitive(&value)?,
                    masker,
                    bearer: Some(token),
                })
            }
        }
    }

    /// The token source, for bearer credentials.
    pub(crate) fn token_source(&self) -> Option<&Arc<dyn TokenSource>> {
        match self {
            Self::Basic { .. } => None,
            Self::Bearer(source) => Some(source),
        }
    }
}

fn sensitive(value: &str) -> Result<HeaderValue, AtlassianError> {
    let mut header = HeaderValue::from_str(value).map_err(|_| AtlassianError::Credentials {
        message: "the credentials contain characters that cannot be sent in a header: enter \
                  the API token or authorize again"
            .to_owned(),
    })?;
    header.set_sensitive(true);
    Ok(header)
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    const CANARY: &str = "CANARY-auth-5e4d3c2b1a09";

    #[tokio::test]
    async fn basic_header_is_base64_of_email_and_token() {
        let creds = Credentials::basic(
            Email::parse("fred@example.com").unwrap(),
            ApiToken::new("freds_api_token"),
        );
        let auth = creds.authorization().await.unwrap();
        assert_eq!(
            auth.header.to_str().unwrap(),
            "Basic ZnJlZEBleGFtcGxlLmNvbTpmcmVkc19hcGlfdG9rZW4="
        );
        assert!(auth.header.is_sensitive());
        assert_eq!(
            auth.masker
                .clean("ZnJlZEBleGFtcGxlLmNvbTpmcmVkc19hcGlfdG9rZW4="),
            "********"
        );
    }

    #[tokio::test]
    async fn bearer_header_comes_from_the_source() {
        let creds = Credentials::Bearer(Arc::new(StaticToken::new(AccessToken::new(CANARY))));
        let auth = creds.authorization().await.unwrap();
        assert_eq!(auth.header.to_str().unwrap(), format!("Bearer {CANARY}"));
        assert!(auth.header.is_sensitive());
        let source = creds.token_source().unwrap();
        assert!(
            !source
                .rejected(auth.bearer.as_ref().unwrap())
                .await
                .unwrap()
        );

        let empty = Credentials::Bearer(Arc::new(StaticToken::new(AccessToken::new(""))));
        assert!(empty.authorization().await.is_err());
        let bad = Credentials::Bearer(Arc::new(StaticToken::new(AccessToken::new("abcd\nefgh"))));
        let err = bad.authorization().await.unwrap_err();
        assert!(
            err.to_string().contains("cannot be sent in a header"),
            "{err}"
        );
    }

    #[test]
    fn debug_never_shows_secrets() {
        let creds = Credentials::basic(
            Email::parse("a@example.com").unwrap(),
            ApiToken::new(CANARY),
        );
        let bearer = Credentials::Bearer(Arc::new(StaticToken::new(AccessToken::new(CANARY))));
        for text in [format!("{creds:?}"), format!("{bearer:?}")] {
            assert!(!text.contains("CANARY"), "{text}");
        }
    }
}
