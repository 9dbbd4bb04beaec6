//! Field-level validation errors shared by every form (CLI flags, JSON, web form).
//!
//! Validation reports every problem at once, each naming its [`Field`] and telling the user
//! what to do, so a form can be fixed in one pass. Messages never contain secrets: secret
//! fields are only ever reported as missing or not applicable.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A form field, identified on the wire by its snake_case id.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Field {
    /// "Name your connection" (also the name of an OAuth 2.0 client).
    #[serde(rename = "name")]
    Name,
    /// "API type".
    #[serde(rename = "api_type")]
    ApiType,
    /// "Subdomain".
    #[serde(rename = "subdomain")]
    Subdomain,
    /// "Auth type".
    #[serde(rename = "auth_type")]
    AuthType,
    /// "Username" (Basic auth).
    #[serde(rename = "username")]
    Username,
    /// "API token" (Basic auth; a secret).
    #[serde(rename = "api_token")]
    ApiToken,
    /// "OAuth 2.0 client".
    #[serde(rename = "oauth_client")]
    OAuthClient,
    /// "Scopes".
    #[serde(rename = "scopes")]
    Scopes,
    /// "Concurrency level".
    #[serde(rename = "concurrency_level")]
    ConcurrencyLevel,
    /// "Client ID" of an OAuth 2.0 client.
    #[serde(rename = "client_id")]
    ClientId,
    /// "Client secret" of an OAuth 2.0 client (a secret).
    #[serde(rename = "client_secret")]
    ClientSecret,
    /// Rate-limit handling "Auto-recover".
    #[serde(rename = "rate_limit_auto_recover")]
    RateLimitAutoRecover,
    /// Rate-limit handling "Max retries".
    #[serde(rename = "rate_limit_max_retries")]
    RateLimitMaxRetries,
}

impl Field {
    /// Every field, in form order.
    pub const ALL: [Field; 13] = [
        Field::Name,
        Field::ApiType,
        Field::Subdomain,
        Field::AuthType,
        Field::Username,
        Field::ApiToken,
        Field::OAuthClient,
        Field::Scopes,
        Field::ConcurrencyLevel,
        Field::ClientId,
        Field::ClientSecret,
        Field::RateLimitAutoRecover,
        Field::RateLimitMaxRetries,
    ];

    /// The stable snake_case id (JSON keys, CLI error output).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::ApiType => "api_type",
            Self::Subdomain => "subdomain",
            Self::AuthType => "auth_type",
            Self::Username => "username",
            Self::ApiToken => "api_token",
            Self::OAuthClient => "oauth_client",
            Self::Scopes => "scopes",
            Self::ConcurrencyLevel => "concurrency_level",
            Self::ClientId => "client_id",
            Self::ClientSecret => "client_secret",
            Self::RateLimitAutoRecover => "rate_limit_auto_recover",
            Self::RateLimitMaxRetries => "rate_limit_max_retries",
        }
    }

    /// The label the form shows.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Name => "Name your connection",
            Self::ApiType => "API type",
            Self::Subdomain => "Subdomain",
            Self::AuthType => "Auth type",
            Self::Username => "Username",
            Self::ApiToken => "API token",
            Self::OAuthClient => "OAuth 2.0 client",
            Self::Scopes => "Scopes",
            Self::ConcurrencyLevel => "Concurrency level",
            Self::ClientId => "Client ID",
            Self::ClientSecret => "Client secret",
            Self::RateLimitAutoRecover => "Rate-limit auto-recover",
            Self::RateLimitMaxRetries => "Rate-limit max retries",
        }
    }

    /// Whether the field holds a secret, which is write-only and never shown.
    #[must_use]
    pub const fn is_secret(self) -> bool {
        matches!(self, Self::ApiToken | Self::ClientSecret)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field at fault.
    pub field: Field,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: Field, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field.label(), self.message)
    }
}

/// Every problem found in a form, in the order they were found (form order).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// No errors yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem.
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Records a problem with `field`.
    pub fn add(&mut self, field: Field, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// The problems, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, FieldError> {
        self.0.iter()
    }

    /// Whether no problem was found.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many problems were found.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The fields with problems, in order, each once.
    #[must_use]
    pub fn fields(&self) -> Vec<Field> {
        let mut fields: Vec<Field> = Vec::new();
        for error in &self.0 {
            if !fields.contains(&error.field) {
                fields.push(error.field);
            }
        }
        fields
    }

    /// The problems with one field.
    pub fn for_field(&self, field: Field) -> impl Iterator<Item = &FieldError> {
        self.0.iter().filter(move |error| error.field == field)
    }

    /// `Ok(ok)` when there is no problem, otherwise `Err(self)`.
    ///
    /// # Errors
    /// `self`, when it holds at least one problem.
    pub fn into_result<T>(self, ok: T) -> Result<T, Self> {
        if self.is_empty() { Ok(ok) } else { Err(self) }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            fmt::Display::fmt(error, f)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl From<FieldError> for ValidationErrors {
    fn from(error: FieldError) -> Self {
        Self(vec![error])
    }
}

impl From<Vec<FieldError>> for ValidationErrors {
    fn from(errors: Vec<FieldError>) -> Self {
        Self(errors)
    }
}

impl Extend<FieldError> for ValidationErrors {
    fn extend<I: IntoIterator<Item = FieldError>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl IntoIterator for ValidationErrors {
    type Item = FieldError;
    type IntoIter = std::vec::IntoIter<FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a ValidationErrors {
    type Item = &'a FieldError;
    type IntoIter = std::slice::Iter<'a, FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn ids_and_labels() {
        let ids: Vec<_> = Field::ALL.iter().map(|f| f.as_str()).collect();
        assert_eq!(
            ids,
            [
                "name",
                "api_type",
                "subdomain",
                "auth_type",
                "username",
                "api_token",
                "oauth_client",
                "scopes",
                "concurrency_level",
                "client_id",
                "client_secret",
                "rate_limit_auto_recover",
                "rate_limit_max_retries",
            ]
        );
        for field in Field::ALL {
            assert_eq!(
                serde_json::to_string(&field).unwrap(),
                format!("\"{}\"", field.as_str())
            );
        }
        assert_eq!(Field::Name.label(), "Name your connection");
        assert_eq!(Field::OAuthClient.label(), "OAuth 2.0 client");
        assert!(Field::ApiToken.is_secret() && Field::ClientSecret.is_secret());
        assert!(!Field::ClientId.is_secret());
    }

    #[test]
    fn display_lists_each_error_on_its_own_line() {
        let mut errors = ValidationErrors::new();
        errors.add(Field::Name, "enter a name");
        errors.push(FieldError::new(Field::Scopes, "choose at least one scope"));
        assert_eq!(
            errors.to_string(),
            "Name your connection: enter a name\nScopes: choose at least one scope"
        );
        assert_eq!(errors.fields(), [Field::Name, Field::Scopes]);
        assert_eq!(errors.for_field(Field::Scopes).count(), 1);
    }

    #[test]
    fn into_result_and_serialisation() {
        assert_eq!(ValidationErrors::new().into_result(5), Ok(5));
        let errors = ValidationErrors::from(FieldError::new(Field::ApiToken, "enter the token"));
        assert_eq!(
            serde_json::to_value(&errors).unwrap(),
            serde_json::json!([{"field": "api_token", "message": "enter the token"}])
        );
        assert_eq!(errors.clone().into_result(()), Err(errors));
    }
}
