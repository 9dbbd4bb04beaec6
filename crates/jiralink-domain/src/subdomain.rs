//! The Jira Cloud site subdomain (`demo` for `https://demo.atlassian.net`).
//!
//! Invariant: a [`Subdomain`] is one DNS label of 1–63 characters from `a–z`, `0–9` and `-`,
//! neither starting nor ending with `-`, and never `localhost`. [`Subdomain::parse`] is lenient
//! about how the site is typed (a bare label, the host name, or a copied `https://` address with
//! any path) but refuses every address that does not name an `atlassian.net` site, so a typo can
//! never point a connection, and its credentials, at another host. Deserialisation is strict:
//! only the bare label is accepted. Messages about typed input say what is wrong and what to
//! enter, and never repeat what was typed.

use std::{fmt, net::Ipv4Addr};

use serde::{Deserialize, Deserializer, Serialize};

use crate::{normalised::Normalised, text::normalised_note};

const SITE_SUFFIX: &str = ".atlassian.net";
const MAX_LEN: usize = 63;
const EXAMPLE: &str = "for https://demo.atlassian.net enter demo";
const ONLY_THE_LABEL: &str =
    "enter only the part before .atlassian.net, for https://demo.atlassian.net enter demo";

/// The subdomain of a Jira Cloud site.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Subdomain(String);

impl Subdomain {
    /// Parses what a user typed into the Subdomain field.
    ///
    /// Accepts `demo`, `demo.atlassian.net` and `https://demo.atlassian.net` with an optional
    /// path, query or trailing slash, in any case and with surrounding whitespace; the stored
    /// value is then `demo`, and the note says what was changed. Any other host, an IP address,
    /// a user name, a port or the `http` scheme is refused with a message that says what to
    /// enter.
    ///
    /// # Errors
    /// A message for the user when the input does not name a Jira Cloud site.
    pub fn parse(input: &str) -> Result<Normalised<Subdomain>, String> {
        let label = extract_label(input)?;
        check_label(&label)?;
        let note = normalised_note("subdomain", input, &label);
        Ok(Normalised {
            value: Subdomain(label),
            note,
        })
    }

    /// Accepts only an already normalised label such as `demo`, as stored data must be.
    ///
    /// # Errors
    /// A message when `label` is not exactly a valid, normalised subdomain.
    pub fn from_label(label: &str) -> Result<Subdomain, String> {
        let parsed = Self::parse(label)?;
        match parsed.note {
            None => Ok(parsed.value),
            Some(_) => Err(format!(
                "{label:?} is not a bare subdomain: store only the label, {EXAMPLE}"
            )),
        }
    }

    /// The label, e.g. `demo`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Subdomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Subdomain {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Subdomain::from_label(&raw).map_err(serde::de::Error::custom)
    }
}

/// Finds the site label in whatever was typed, refusing addresses of other hosts.
fn extract_label(input: &str) -> Result<String, String> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(format!("enter your Jira subdomain: {EXAMPLE}"));
    }
    // ASCII lowering only: Unicode lowering maps look-alikes such as the Kelvin sign onto ASCII
    // letters, which would quietly turn one site name into another.
    let lower = trimmed.to_ascii_lowercase();

    let (has_scheme, rest) = match lower.split_once("://") {
        Some((scheme, rest)) if is_scheme(scheme) => match scheme {
            "https" => (true, rest),
            "http" => {
                return Err(format!(
                    "Jira Cloud sites are served over https, not http: {EXAMPLE}"
                ));
            }
            _ => {
                return Err(format!(
                    "Jira Cloud sites are addressed with https://, not another scheme: {EXAMPLE}"
                ));
            }
        },
        _ => (false, lower.as_str()),
    };

    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);

    if authority.contains('@') {
        return Err(format!(
            "remove the user name and '@' from the address: {ONLY_THE_LABEL}"
        ));
    }
    if authority.starts_with('[') {
        return Err(format!("an IP address is not a Jira Cloud site: {EXAMPLE}"));
    }
    if authority.contains(':') {
        return Err(format!(
            "remove the port from the address: {ONLY_THE_LABEL}"
        ));
    }
    let host = authority;
    // A fully qualified name may end with the root dot.
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return Err(format!("enter your Jira subdomain: {EXAMPLE}"));
    }
    if host.parse::<Ipv4Addr>().is_ok() {
        return Err(format!("an IP address is not a Jira Cloud site: {EXAMPLE}"));
    }
    if host == "localhost" || host.ends_with(".localhost") {
        return Err(format!("localhost is not a Jira Cloud site: {EXAMPLE}"));
    }

    if let Some(label) = host.strip_suffix(SITE_SUFFIX) {
        if label.contains('.') {
            return Err(format!(
                "the address has more than one name before .atlassian.net: enter only the \
                 first part, {EXAMPLE}"
            ));
        }
        return Ok(label.to_owned());
    }
    if host.contains('.') || has_scheme || !tail.is_empty() {
        return Err(format!(
            "the address is not a Jira Cloud site (https://<subdomain>.atlassian.net): \
             {ONLY_THE_LABEL}"
        ));
    }
    Ok(host.to_owned())
}

fn check_label(label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err(format!("enter your Jira subdomain: {EXAMPLE}"));
    }
    if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!(
            "a subdomain may contain only letters a-z, digits and '-': {EXAMPLE}"
        ));
    }
    // Only ASCII is left, so bytes and characters agree.
    if label.len() > MAX_LEN {
        return Err(format!(
            "a subdomain has at most {MAX_LEN} characters, this one has {}: {EXAMPLE}",
            label.len()
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(format!(
            "a subdomain cannot start or end with '-': {EXAMPLE}"
        ));
    }
    if label == "localhost" {
        return Err(format!("localhost is not a Jira Cloud site: {EXAMPLE}"));
    }
    Ok(())
}

/// RFC 3986 scheme characters; anything else before `://` is not a scheme.
fn is_scheme(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn bare_label_has_no_note() {
        let parsed = Subdomain::parse("demo").unwrap();
        assert_eq!(parsed.value.as_str(), "demo");
        assert_eq!(parsed.note, None);
    }

    #[test]
    fn note_quotes_what_was_typed() {
        let parsed = Subdomain::parse("https://Demo.atlassian.net/").unwrap();
        assert_eq!(parsed.value.as_str(), "demo");
        assert_eq!(
            parsed.note.as_deref(),
            Some(r#"subdomain: "https://Demo.atlassian.net/" was normalised to "demo""#)
        );
    }

    #[test]
    fn limits_length_to_one_dns_label() {
        let longest = "a".repeat(63);
        assert_eq!(Subdomain::parse(&longest).unwrap().value.as_str(), longest);
        let err = Subdomain::parse(&"a".repeat(64)).unwrap_err();
        assert!(err.contains("at most 63"), "{err}");
    }

    #[test]
    fn kelvin_sign_is_not_folded_to_k() {
        let err = Subdomain::parse("demo\u{212A}").unwrap_err();
        assert!(err.contains("only letters a-z"), "{err}");
    }

    #[test]
    fn deserialising_is_strict() {
        let ok: Subdomain = serde_json::from_str("\"demo\"").unwrap();
        assert_eq!(ok.as_str(), "demo");
        for raw in [
            "\"Demo\"",
            "\"demo.atlassian.net\"",
            "\" demo\"",
            "\"-demo\"",
            "\"\"",
        ] {
            assert!(
                serde_json::from_str::<Subdomain>(raw).is_err(),
                "{raw} was accepted"
            );
        }
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"demo\"");
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_accepted_values_are_fixed_points(input in "\\PC{0,80}") {
            if let Ok(parsed) = Subdomain::parse(&input) {
                let again = Subdomain::parse(parsed.value.as_str()).unwrap();
                prop_assert_eq!(&again.value, &parsed.value);
                prop_assert_eq!(again.note, None);
                prop_assert_eq!(parsed.note.is_none(), input == parsed.value.as_str());
            }
        }

        #[test]
        fn url_shaped_inputs_never_panic(
            input in "(https?://)?[a-zA-Z0-9@:.\\-\\[\\]]{0,20}(\\.atlassian\\.net)?(:[0-9]{0,5})?(/[a-z/]{0,10})?"
        ) {
            if let Ok(parsed) = Subdomain::parse(&input) {
                prop_assert_eq!(Subdomain::from_label(parsed.value.as_str()), Ok(parsed.value.clone()));
            }
        }

        #[test]
        fn every_valid_label_is_accepted_in_each_typed_form(label in "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?") {
            prop_assume!(label != "localhost");
            for typed in [
                label.clone(),
                format!("{label}.atlassian.net"),
                format!("https://{label}.atlassian.net"),
                format!("HTTPS://{}.ATLASSIAN.NET/jira/your-work", label.to_uppercase()),
            ] {
                let parsed = Subdomain::parse(&typed).unwrap();
                prop_assert_eq!(parsed.value.as_str(), label.as_str());
            }
        }
    }
}
