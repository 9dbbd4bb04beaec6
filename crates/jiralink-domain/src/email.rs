//! The Atlassian account e-mail used as the Basic auth username.
//!
//! Invariant: an [`Email`] is trimmed, at most 254 characters, free of whitespace, control,
//! invisible and text-direction characters, and has exactly one `@` with a non-empty local part
//! and a dotted domain. This is a plausibility check for catching typos, not RFC 5322: Jira
//! itself decides whether the account exists.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

const MAX_LEN: usize = 254;
const EXPECTED: &str = "an Atlassian account e-mail such as name@example.com is expected";

/// An e-mail address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Parses an e-mail address, trimming surrounding whitespace.
    ///
    /// # Errors
    /// A message saying what is wrong; it always ends by naming what is expected.
    pub fn parse(input: &str) -> Result<Email, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err(format!("enter an e-mail address: {EXPECTED}"));
        }
        let len = s.chars().count();
        if len > MAX_LEN {
            return Err(format!(
                "the address is {len} characters long, at most {MAX_LEN} are allowed: {EXPECTED}"
            ));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("remove the spaces from the address: {EXPECTED}"));
        }
        if let Err(message) = crate::name::check_visible(s, "address") {
            return Err(format!("{message}: {EXPECTED}"));
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(format!("the address has no '@': {EXPECTED}"));
        };
        if domain.contains('@') {
            return Err(format!("the address has more than one '@': {EXPECTED}"));
        }
        if local.is_empty() {
            return Err(format!(
                "the address has nothing before the '@': {EXPECTED}"
            ));
        }
        let dotted = domain.contains('.') && domain.split('.').all(|part| !part.is_empty());
        if !dotted {
            return Err(format!(
                "the part after '@' must be a domain such as example.com: {EXPECTED}"
            ));
        }
        Ok(Email(s.to_owned()))
    }

    /// The address.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        let email = match Email::parse(&raw) {
            Ok(email) => email,
            // Stored before hidden characters were refused: still readable, to be edited.
            Err(_) if crate::name::only_hidden_characters_wrong(&raw) => {
                let visible: String = raw
                    .chars()
                    .filter(|c| crate::name::refused_char(*c).is_none())
                    .collect();
                Email::parse(&visible).map_err(serde::de::Error::custom)?;
                Email(raw.clone())
            }
            Err(message) => return Err(serde::de::Error::custom(message)),
        };
        if email.0 != raw {
            return Err(serde::de::Error::custom(
                "stored e-mail address is not trimmed",
            ));
        }
        Ok(email)
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn keeps_case_and_trims() {
        assert_eq!(
            Email::parse("  Fred.Bloggs@Example.COM ").unwrap().as_str(),
            "Fred.Bloggs@Example.COM"
        );
    }

    #[test]
    fn length_limit_counts_characters() {
        let domain = "@example.com";
        let at_limit = format!("{}{domain}", "é".repeat(MAX_LEN - domain.len()));
        assert!(Email::parse(&at_limit).is_ok());
        let over = format!("é{at_limit}");
        assert!(Email::parse(&over).unwrap_err().contains("at most 254"));
    }

    #[test]
    fn every_refusal_says_what_is_expected() {
        for bad in [
            "",
            "fred",
            "@example.com",
            "fred@",
            "fred@example",
            "fred@@example.com",
            "a@b@example.com",
            "fred @example.com",
            "fred@example..com",
            "fred@.example.com",
            "fred@example.com.",
            "fred\t@example.com",
            "fred\u{200B}@example.com",
            "fred@exa\u{202E}mple.com",
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert!(err.ends_with(EXPECTED), "{bad:?}: {err}");
        }
    }

    #[test]
    fn addresses_stored_before_the_hidden_character_rule_still_load() {
        let email: Email = serde_json::from_str("\"fred\u{200B}@example.com\"").unwrap();
        assert_eq!(email.as_str(), "fred\u{200B}@example.com");
        assert!(Email::parse(email.as_str()).is_err());
        assert!(serde_json::from_str::<Email>("\"fr\u{200B}ed\"").is_err());
    }

    #[test]
    fn deserialising_is_strict() {
        assert!(serde_json::from_str::<Email>("\"fred@example.com\"").is_ok());
        assert!(serde_json::from_str::<Email>("\" fred@example.com\"").is_err());
        assert!(serde_json::from_str::<Email>("\"fred\"").is_err());
    }
}
