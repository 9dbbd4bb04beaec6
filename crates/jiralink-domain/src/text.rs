//! Small helpers for reading form input and telling the user how it was read.

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
