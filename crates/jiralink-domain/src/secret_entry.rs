//! What a form says about a secret it carries (an API token, a client secret): whether one was
//! entered, never the secret itself.
//!
//! Invariant: every front end's secret reaches validation as a [`SecretEntry`] made by
//! [`SecretEntry::of`], so an empty or whitespace-only secret is *missing* wherever it comes
//! from, and one longer than [`MAX_SECRET_CHARS`] is refused before it can be stored or sent.

/// The most characters a secret may have. Atlassian API tokens and OAuth 2.0 client secrets
/// are a few hundred characters at most; anything far longer is a paste gone wrong and must
/// not end up in an HTTP header.
pub const MAX_SECRET_CHARS: usize = 4096;

/// Whether a secret was entered, and whether it can be used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SecretEntry {
    /// None was sent, or only whitespace: the field is missing.
    #[default]
    Missing,
    /// One of more than [`MAX_SECRET_CHARS`] characters.
    TooLong,
    /// A secret to store.
    Entered,
}

impl SecretEntry {
    /// Classifies a secret without keeping it.
    #[must_use]
    pub fn of(secret: Option<&str>) -> Self {
        match secret {
            None => Self::Missing,
            Some(s) if s.trim().is_empty() => Self::Missing,
            // Counting stops one past the limit, so a huge value costs no more than that.
            Some(s) if s.chars().nth(MAX_SECRET_CHARS).is_some() => Self::TooLong,
            Some(_) => Self::Entered,
        }
    }

    /// Whether anything was sent for the field (even a secret too long to use).
    #[must_use]
    pub const fn is_sent(self) -> bool {
        !matches!(self, Self::Missing)
    }
}

/// The message for a secret over the limit; `what` names it, e.g. "API token". It never holds
/// the value, nor its length.
pub fn too_long_message(what: &str) -> String {
    format!(
        "the {what} is longer than {MAX_SECRET_CHARS} characters, which no Atlassian {what} is: \
         paste only the {what} itself"
    )
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn blank_is_missing_and_the_limit_is_inclusive() {
        for blank in ["", " ", "\t\n", "\u{3000}"] {
            assert_eq!(
                SecretEntry::of(Some(blank)),
                SecretEntry::Missing,
                "{blank:?}"
            );
        }
        assert_eq!(SecretEntry::of(None), SecretEntry::Missing);
        assert_eq!(SecretEntry::of(Some("atl-x")), SecretEntry::Entered);
        let max = "é".repeat(MAX_SECRET_CHARS);
        assert_eq!(SecretEntry::of(Some(&max)), SecretEntry::Entered);
        let over = "x".repeat(MAX_SECRET_CHARS + 1);
        assert_eq!(SecretEntry::of(Some(&over)), SecretEntry::TooLong);
        assert!(SecretEntry::TooLong.is_sent() && !SecretEntry::Missing.is_sent());
    }

    #[test]
    fn the_message_names_the_limit_not_the_value() {
        let message = too_long_message("API token");
        assert!(message.contains("4096 characters"), "{message}");
    }
}
