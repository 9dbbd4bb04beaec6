//! Resource names ("Name your connection", and the name of an OAuth 2.0 client).
//!
//! Invariant: a [`ConnectionName`] is trimmed, 1–100 characters (Unicode scalar values, not
//! bytes) and free of control characters, invisible characters (zero-width spaces and joiners,
//! the byte order mark, …) and text-direction controls ([`refused_char`]), so two names that look
//! alike are alike and no name reorders the text printed around it. Names are unique per
//! resource kind ignoring case; [`ConnectionName::key`] is the value to compare and to index.
//!
//! Names stored before invisible and text-direction characters were refused still load
//! (deserialising tolerates those characters, nothing else), so such a resource can be listed and renamed; every
//! name typed is checked in full.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// The most characters a name may have.
pub const MAX_NAME_CHARS: usize = 100;

/// Why a character may not appear in a name or other short text that people tell apart by
/// looking at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusedChar {
    /// A control character: C0, DEL, C1, or the line and paragraph separators.
    Control,
    /// A character that shows as nothing: zero-width spaces and joiners, the word joiner, the
    /// byte order mark, the soft hyphen, fillers, tags and other invisible format characters.
    Invisible,
    /// A bidirectional control that reorders the text around it: U+061C, U+200E, U+200F,
    /// U+202A–U+202E and U+2066–U+2069.
    TextDirection,
}

/// Whether `c` changes the direction in which the text around it is displayed.
#[must_use]
pub const fn is_text_direction_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Why `c` is refused in names, or `None` when it is allowed.
#[must_use]
pub fn refused_char(c: char) -> Option<RefusedChar> {
    if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
        return Some(RefusedChar::Control);
    }
    if is_text_direction_control(c) {
        return Some(RefusedChar::TextDirection);
    }
    let invisible = matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200D}'
            | '\u{2060}'..='\u{2065}'
            | '\u{206A}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E007F}'
    );
    if invisible {
        Some(RefusedChar::Invisible)
    } else {
        None
    }
}

/// Checks that `text` holds no character [`refused_char`] refuses. `what` names the text in
/// the message, e.g. "name" or "user name".
///
/// # Errors
/// What to remove, naming the kind of character but never the text itself.
pub fn check_visible(text: &str, what: &str) -> Result<(), String> {
    let mut found = [false; 3];
    for c in text.chars() {
        match refused_char(c) {
            Some(RefusedChar::Control) => found[0] = true,
            Some(RefusedChar::Invisible) => found[1] = true,
            Some(RefusedChar::TextDirection) => found[2] = true,
            None => {}
        }
    }
    let kinds: Vec<&str> = [
        "control characters (such as tabs or line breaks)",
        "invisible characters (such as zero-width spaces or joiners)",
        "text-direction characters (such as right-to-left marks or overrides)",
    ]
    .into_iter()
    .zip(found)
    .filter_map(|(kind, found)| found.then_some(kind))
    .collect();
    if kinds.is_empty() {
        return Ok(());
    }
    let why = if found[1] || found[2] {
        ": they hide or reorder what is shown, so text that looks the same could differ"
    } else {
        ""
    };
    Err(format!(
        "remove the {} from the {what}{why}",
        kinds.join(" and the ")
    ))
}

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
        check_visible(s, "name")?;
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

/// Whether `text` breaks no rule but the one on invisible and text-direction characters:
/// stored data from before that rule, which must stay readable.
pub(crate) fn only_hidden_characters_wrong(text: &str) -> bool {
    let mut hidden = false;
    for c in text.chars() {
        match refused_char(c) {
            Some(RefusedChar::Control) => return false,
            Some(RefusedChar::Invisible | RefusedChar::TextDirection) => hidden = true,
            None => {}
        }
    }
    hidden
}

impl<'de> Deserialize<'de> for ConnectionName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        let name = match ConnectionName::parse(&raw) {
            Ok(name) => name,
            Err(_)
                if only_hidden_characters_wrong(&raw)
                    && raw.trim() == raw
                    && raw.chars().count() <= MAX_NAME_CHARS =>
            {
                ConnectionName(raw.clone())
            }
            Err(message) => return Err(serde::de::Error::custom(message)),
        };
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

    /// Every character the rule exists for, as (code point, kind).
    const HIDDEN: [(char, RefusedChar); 18] = [
        ('\u{200B}', RefusedChar::Invisible),
        ('\u{200C}', RefusedChar::Invisible),
        ('\u{200D}', RefusedChar::Invisible),
        ('\u{2060}', RefusedChar::Invisible),
        ('\u{FEFF}', RefusedChar::Invisible),
        ('\u{00AD}', RefusedChar::Invisible),
        ('\u{202A}', RefusedChar::TextDirection),
        ('\u{202B}', RefusedChar::TextDirection),
        ('\u{202C}', RefusedChar::TextDirection),
        ('\u{202D}', RefusedChar::TextDirection),
        ('\u{202E}', RefusedChar::TextDirection),
        ('\u{2066}', RefusedChar::TextDirection),
        ('\u{2067}', RefusedChar::TextDirection),
        ('\u{2068}', RefusedChar::TextDirection),
        ('\u{2069}', RefusedChar::TextDirection),
        ('\u{200E}', RefusedChar::TextDirection),
        ('\u{200F}', RefusedChar::TextDirection),
        ('\u{061C}', RefusedChar::TextDirection),
    ];

    #[test]
    fn refuses_invisible_and_text_direction_characters() {
        for (c, kind) in HIDDEN {
            assert_eq!(refused_char(c), Some(kind), "U+{:04X}", u32::from(c));
            for name in [
                format!("Jira{c}acme"),
                format!("{c}Jira"),
                format!("Jira{c}"),
            ] {
                let err = ConnectionName::parse(&name).unwrap_err();
                let want = match kind {
                    RefusedChar::Invisible => "invisible characters",
                    RefusedChar::TextDirection => "text-direction characters",
                    RefusedChar::Control => unreachable!(),
                };
                assert!(err.contains(want), "U+{:04X}: {err}", u32::from(c));
                assert!(!err.contains("Jira"), "the name is repeated: {err}");
            }
        }
        for c in ['\u{1b}', '\u{7}', '\r', '\u{85}', '\u{2028}'] {
            assert_eq!(refused_char(c), Some(RefusedChar::Control));
        }
        let err = ConnectionName::parse("a\u{202E}b\u{200B}c").unwrap_err();
        assert!(
            err.contains("invisible characters") && err.contains("text-direction characters"),
            "{err}"
        );
    }

    #[test]
    fn visible_text_of_every_script_is_allowed() {
        for name in [
            "Jira - acme",
            "Jira (Straße)",
            "ジラ接続",
            "חיבור ג'ירה",
            "اتصال جيرا",
            "Jira ❤\u{FE0F}",
            "Ünïcödé 2",
        ] {
            assert_eq!(ConnectionName::parse(name).unwrap().as_str(), name);
        }
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

    #[test]
    fn names_stored_before_the_hidden_character_rule_still_load() {
        let stored = "\"Jira\u{200B} acme\u{202E}\"";
        let name: ConnectionName = serde_json::from_str(stored).unwrap();
        assert_eq!(name.as_str(), "Jira\u{200B} acme\u{202E}");
        assert!(
            ConnectionName::parse(name.as_str()).is_err(),
            "typed, it is refused"
        );
        assert!(serde_json::from_str::<ConnectionName>("\"Jira\u{200B}\\u0007\"").is_err());
        assert!(serde_json::from_str::<ConnectionName>("\" Jira\u{200B}\"").is_err());
    }

    proptest! {
        #[test]
        fn a_hidden_character_anywhere_is_refused(
            before in "[a-zA-Z0-9 ]{0,20}",
            after in "[a-zA-Z0-9 ]{0,20}",
            hidden in proptest::sample::select(HIDDEN.to_vec()),
        ) {
            let name = format!("x{before}{}{after}x", hidden.0);
            prop_assert!(ConnectionName::parse(&name).is_err());
        }

        #[test]
        fn accepted_names_hold_no_refused_character(input in "\\PC{1,60}") {
            if let Ok(name) = ConnectionName::parse(&input) {
                prop_assert!(name.as_str().chars().all(|c| refused_char(c).is_none()));
            }
        }

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
