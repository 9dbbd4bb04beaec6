//! The `~` text search, reduced to what integrations rely on.
//!
//! The search string is split into words (runs of letters and digits); every word must occur in
//! the field, compared without regard to case. `win*` matches words starting with `win`, a part
//! in double quotes (`"\"full screen\""`) must occur as consecutive words, and a word written
//! `-word` (after a space or at the start) must not occur; a search of only such words matches
//! nothing, as in Jira. Jira's stemming, stop words, `?` wildcards, fuzzy `~` suffixes and
//! boolean operators inside the string are not simulated; other punctuation is ignored.

use std::cmp::Ordering;

/// One part of a text search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TextTerm {
    /// A lower-cased word; `prefix` when it ended in `*`.
    Word { word: String, prefix: bool },
    /// Lower-cased words that must follow one another.
    Phrase(Vec<String>),
    /// A lower-cased word that must not occur; `prefix` when it ended in `*`.
    Without { word: String, prefix: bool },
}

impl TextTerm {
    /// Whether the term excludes rather than requires.
    pub(crate) fn excludes(&self) -> bool {
        matches!(self, Self::Without { .. })
    }
}

/// Splits a search string into terms; empty when it holds no letters or digits.
pub(crate) fn text_terms(query: &str) -> Vec<TextTerm> {
    let mut terms = Vec::new();
    let mut phrase: Option<Vec<String>> = None;
    let mut word = String::new();
    let mut chars = query.chars().peekable();
    let mut previous: Option<char> = None;
    let mut without = false;
    while let Some(c) = chars.next() {
        let before = previous.replace(c);
        if c == '-'
            && phrase.is_none()
            && before.is_none_or(char::is_whitespace)
            && chars.peek().is_some_and(|n| n.is_alphanumeric())
        {
            without = true;
        } else if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
            if chars.peek().is_some_and(|n| n.is_alphanumeric()) {
                continue;
            }
            let finished = std::mem::take(&mut word);
            match phrase.as_mut() {
                Some(words) => words.push(finished),
                None => {
                    let prefix = chars.peek() == Some(&'*');
                    terms.push(if std::mem::take(&mut without) {
                        TextTerm::Without {
                            word: finished,
                            prefix,
                        }
                    } else {
                        TextTerm::Word {
                            word: finished,
                            prefix,
                        }
                    });
                }
            }
        } else if c == '"' {
            match phrase.take() {
                Some(words) => push_phrase(&mut terms, words),
                None => phrase = Some(Vec::new()),
            }
        }
    }
    if let Some(words) = phrase {
        push_phrase(&mut terms, words);
    }
    terms
}

fn push_phrase(terms: &mut Vec<TextTerm>, mut words: Vec<String>) {
    match words.len() {
        0 => {}
        1 => terms.push(TextTerm::Word {
            word: words.remove(0),
            prefix: false,
        }),
        _ => terms.push(TextTerm::Phrase(words)),
    }
}

fn words(haystack: &str) -> impl Iterator<Item = &str> + Clone {
    haystack
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// `word` lower-cased equals `lower`.
fn word_eq(word: &str, lower: &str) -> bool {
    word.chars().flat_map(char::to_lowercase).eq(lower.chars())
}

/// `word` lower-cased starts with `lower`.
fn word_starts_with(word: &str, lower: &str) -> bool {
    let mut folded = word.chars().flat_map(char::to_lowercase);
    lower.chars().all(|c| folded.next() == Some(c))
}

/// Whether every required term occurs in `haystack` and no excluded one does. Allocates
/// nothing.
pub(crate) fn text_matches(terms: &[TextTerm], haystack: &str) -> bool {
    terms.iter().any(|t| !t.excludes())
        && terms
            .iter()
            .all(|term| term_matches(term, haystack) != term.excludes())
}

/// Whether one term occurs in `haystack` (for [`TextTerm::Without`], whether its word does).
/// Allocates nothing.
pub(crate) fn term_matches(term: &TextTerm, haystack: &str) -> bool {
    match term {
        TextTerm::Without { word, prefix: true } => {
            words(haystack).any(|w| word_starts_with(w, word))
        }
        TextTerm::Without {
            word,
            prefix: false,
        } => words(haystack).any(|w| word_eq(w, word)),
        TextTerm::Word { word, prefix: true } => words(haystack).any(|w| word_starts_with(w, word)),
        TextTerm::Word {
            word,
            prefix: false,
        } => words(haystack).any(|w| word_eq(w, word)),
        TextTerm::Phrase(phrase) => {
            let mut starts = words(haystack);
            loop {
                let mut from_here = starts.clone();
                if phrase
                    .iter()
                    .all(|p| from_here.next().is_some_and(|w| word_eq(w, p)))
                {
                    return true;
                }
                if starts.next().is_none() {
                    return false;
                }
            }
        }
    }
}

/// Case-insensitive equality (full Unicode lower-casing), without allocating.
pub(crate) fn eq_ci(a: &str, b: &str) -> bool {
    a == b
        || a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
}

/// Case-insensitive order, falling back to the exact text so that the order is total.
pub(crate) fn cmp_ci(a: &str, b: &str) -> Ordering {
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
        .then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(w: &str, prefix: bool) -> TextTerm {
        TextTerm::Word {
            word: w.into(),
            prefix,
        }
    }

    #[test]
    fn terms() {
        assert_eq!(
            text_terms("Disk win* \"Full  Screen\" x-ray \"solo\""),
            vec![
                word("disk", false),
                word("win", true),
                TextTerm::Phrase(vec!["full".into(), "screen".into()]),
                word("x", false),
                word("ray", false),
                word("solo", false),
            ]
        );
        assert!(text_terms(" ** \"\" ").is_empty());
    }

    #[test]
    fn matching() {
        let summary = "Disk space on web-01 is FULL (screen shows it)";
        let m = |q: &str| text_matches(&text_terms(q), summary);
        assert!(m("disk"));
        assert!(m("DISK full"));
        assert!(m("web"));
        assert!(m("scr*"));
        assert!(m("\"full screen\""));
        assert!(!m("\"screen full\""));
        assert!(!m("disks"));
        assert!(!m("disk missing"));
        assert!(!m("\"shows it now\""));
        assert!(m("disk -missing"));
        assert!(!m("disk -full"));
        assert!(!m("disk -ful*"));
        assert!(m("web-01"));
        assert!(!m("-missing"));
    }

    #[test]
    fn case_helpers() {
        assert!(eq_ci("ÄRGER", "ärger"));
        assert!(eq_ci("In Progress", "in progress"));
        assert!(!eq_ci("Done", "Don"));
        assert_eq!(cmp_ci("apple", "Banana"), Ordering::Less);
        assert_eq!(cmp_ci("a", "A"), Ordering::Greater);
        assert_eq!(cmp_ci("b", "b"), Ordering::Equal);
    }
}
