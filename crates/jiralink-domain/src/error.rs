//! Errors of the domain crate that are not form validation.
//!
//! Form input is reported field by field through
//! [`ValidationErrors`](crate::validation::ValidationErrors); this enum covers parsing single
//! values (ids, API and auth types) and checking configured endpoints. Display texts are short
//! lower-case fragments that tell the user what to enter instead; they never carry secrets,
//! and texts about typed input never repeat it (a secret pasted into the wrong field must not
//! come back).

/// An error from parsing a single domain value or checking endpoint configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The text is not one of the API types.
    #[error(
        "unknown API type: use cloud-platform (Cloud Platform and Service Management) or \
         customer-service-management (Customer Service Management)"
    )]
    UnknownApiType {
        /// What the user typed; not part of the message.
        input: String,
    },
    /// The text is not one of the auth types.
    #[error("unknown auth type: use basic or oauth2")]
    UnknownAuthType {
        /// What the user typed; not part of the message.
        input: String,
    },
    /// The text is not a UUID.
    #[error("invalid {kind} id: expected a UUID such as 67e55044-10b1-426f-9247-bb680e5fe0c8")]
    InvalidId {
        /// Which kind of id was expected, e.g. "connection".
        kind: &'static str,
    },
    /// A stored or typed code is not one of the known values of its kind.
    #[error("unknown {kind} {input:?}: expected one of {expected}")]
    UnknownValue {
        /// What kind of value, e.g. "audit action".
        kind: &'static str,
        /// The text found (codes are not secret).
        input: String,
        /// The accepted values, comma-separated.
        expected: String,
    },
    /// A configured Atlassian endpoint is unusable.
    #[error("invalid endpoint setting {setting}: {reason}")]
    InvalidEndpoints {
        /// The setting's name, e.g. `site_url_template`.
        setting: &'static str,
        /// What is wrong and what to change.
        reason: String,
    },
}
