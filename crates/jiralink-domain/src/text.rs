//! Small helpers for building user-facing messages.

/// Echoes user input into a message only as far as it stays readable.
pub(crate) fn shown(s: &str) -> String {
    const LIMIT: usize = 80;
    if s.chars().count() <= LIMIT {
        s.to_owned()
    } else {
        let head: String = s.chars().take(LIMIT).collect();
        format!("{head}…")
    }
}

/// The trimmed text of an optional form value, or `None` when it is absent or blank.
pub(crate) fn given(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|s| !s.is_empty())
}

/// The note recorded when accepted text differs from what was typed.
pub(crate) fn normalised_note(field: &str, typed: &str, stored: &str) -> Option<String> {
    (typed != stored).then(|| format!("{field}: {typed:?} was normalised to {stored:?}"))
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn shown_truncates_long_input() {
        assert_eq!(shown("abc"), "abc");
        let long = "x".repeat(100);
        assert_eq!(shown(&long).chars().count(), 81);
    }

    #[test]
    fn given_ignores_blank_values() {
        assert_eq!(given(None), None);
        assert_eq!(given(Some("  ")), None);
        assert_eq!(given(Some(" a ")), Some("a"));
    }

    #[test]
    fn note_only_when_changed() {
        assert_eq!(normalised_note("name", "a", "a"), None);
        assert_eq!(
            normalised_note("name", " a", "a").as_deref(),
            Some(r#"name: " a" was normalised to "a""#)
        );
    }
}
