//! Resource names ("Name your connection", and the name of an OAuth 2.0 client).
//!
//! Invariant: a [`ConnectionName`] is trimmed, 1–100 characters (Unicode scalar values, not
//! bytes) and free of control characters. Names are unique per resource kind ignoring case;
//! [`ConnectionName::key`] is the value to compare and to index.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// The most characters a name may have.
pub const MAX_NAME_CHARS: usize = 100;

/// A validated resource name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ConnectionName(String);

/// OAuth 2.0 clients follow the same naming rules as connections, in a namespace of their own.
pub type ResourceName = ConnectionName;

impl ConnectionName {
    /// Parses a name, trimming surrounding whitespace.
    ///
    /// # Errors
    /// A message saying what is wrong and what to enter instead.
    pub fn parse(input: &str) -> Result<ConnectionName, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("enter a clear, distinguishable name".to_owned());
        }
        if s.chars().any(char::is_control) {
            return Err(
                "remove the control characters (such as tabs or line breaks) from the name"
                    .to_owned(),
            );
        }
        let len = s.chars().count();
        if len > MAX_NAME_CHARS {
            return Err(format!(
                "the name is {len} characters long: shorten it to at most {MAX_NAME_CHARS}"
            ));
        }
        Ok(ConnectionName(s.to_owned()))
    }

    /// The name as entered, without surrounding whitespace.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive uniqueness key: two names clash when their keys are equal.
    ///
    /// It is the Unicode lower case, taken after a round trip through upper case: a close
    /// stand-in for case folding, since lower case alone keeps "Straße" and "STRASSE" apart
    /// although they differ only in case.
    #[must_use]
    pub fn key(&self) -> String {
        self.0.to_lowercase().to_uppercase().to_lowercase()
    }
}

impl fmt::Display for ConnectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ConnectionName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        let name = ConnectionName::parse(&raw).map_err(serde::de::Error::custom)?;
        if name.0 != raw {
            return Err(serde::de::Error::custom("stored name is not trimmed"));
        }
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn trims_and_counts_characters_not_bytes() {
        assert_eq!(
            ConnectionName::parse("  Jira - acme \n").unwrap().as_str(),
            "Jira - acme"
        );
        let hundred = "ü".repeat(100);
        assert_eq!(ConnectionName::parse(&hundred).unwrap().as_str(), hundred);
        let err = ConnectionName::parse(&"ü".repeat(101)).unwrap_err();
        assert!(err.contains("101 characters"), "{err}");
    }

    #[test]
    fn refuses_empty_and_control_characters() {
        assert!(
            ConnectionName::parse("   ")
                .unwrap_err()
                .contains("enter a clear")
        );
        assert!(
            ConnectionName::parse("a\tb")
                .unwrap_err()
                .contains("control characters")
        );
        assert!(
            ConnectionName::parse("a\u{7f}b")
                .unwrap_err()
                .contains("control characters")
        );
    }

    #[test]
    fn key_ignores_case_including_sharp_s() {
        let key = |s: &str| ConnectionName::parse(s).unwrap().key();
        assert_eq!(key("Jira - ACME"), key("jira - acme"));
        assert_eq!(key("Straße"), key("STRASSE"));
        assert_ne!(key("Jira - acme"), key("Jira - acme 2"));
    }

    #[test]
    fn deserialising_is_strict() {
        assert!(serde_json::from_str::<ConnectionName>("\"Jira\"").is_ok());
        assert!(serde_json::from_str::<ConnectionName>("\" Jira\"").is_err());
        assert!(serde_json::from_str::<ConnectionName>("\"\"").is_err());
    }

    proptest! {
        #[test]
        fn key_is_case_insensitive(input in "\\PC{1,60}") {
            if let Ok(name) = ConnectionName::parse(&input) {
                let key = name.key();
                for variant in [input.to_uppercase(), input.to_lowercase()] {
                    if let Ok(other) = ConnectionName::parse(&variant) {
                        prop_assert_eq!(other.key(), key.clone(), "{:?} vs {:?}", input, variant);
                    }
                }
            }
        }

        #[test]
        fn ascii_case_flips_share_a_key(input in "[a-zA-Z0-9 ._-]{1,40}", flips in proptest::collection::vec(any::<bool>(), 40)) {
            prop_assume!(!input.trim().is_empty());
            let flipped: String = input
                .chars()
                .zip(flips.iter().chain(std::iter::repeat(&false)))
                .map(|(c, flip)| if *flip { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
                .collect();
            let a = ConnectionName::parse(&input).unwrap();
            let b = ConnectionName::parse(&flipped).unwrap();
            prop_assert_eq!(a.key(), b.key());
        }
    }
}
