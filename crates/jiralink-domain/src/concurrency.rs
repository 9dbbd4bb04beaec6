//! The connection's concurrency level: how many requests may be in flight at once.
//!
//! Invariant: 1 to 50 inclusive; 10 when not set, which stays well inside Jira's burst limits
//! for a single site.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How many requests a connection may have in flight at once.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u8")]
pub struct ConcurrencyLevel(u8);

impl ConcurrencyLevel {
    /// The smallest level.
    pub const MIN: u8 = 1;
    /// The largest level.
    pub const MAX: u8 = 50;
    /// The level used when none is given.
    pub const DEFAULT: u8 = 10;

    /// A level from a number.
    ///
    /// # Errors
    /// A message when `level` is outside 1–50.
    pub fn new(level: u32) -> Result<ConcurrencyLevel, String> {
        match u8::try_from(level) {
            Ok(l) if (Self::MIN..=Self::MAX).contains(&l) => Ok(ConcurrencyLevel(l)),
            _ => Err(format!("the level is out of range: {}", Self::RANGE_HINT)),
        }
    }

    /// A level from text such as a command-line flag, trimming whitespace.
    ///
    /// # Errors
    /// A message when the text is not a whole number from 1 to 50.
    pub fn parse(input: &str) -> Result<ConcurrencyLevel, String> {
        let s = input.trim();
        match s.parse::<u32>() {
            Ok(n) => Self::new(n),
            Err(_) if s.is_empty() => Err(format!("enter a number: {}", Self::RANGE_HINT)),
            Err(_) => Err(format!(
                "the level is not a whole number: {}",
                Self::RANGE_HINT
            )),
        }
    }

    /// The level.
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }

    const RANGE_HINT: &str = "enter a whole number from 1 to 50 (the default is 10)";
}

impl Default for ConcurrencyLevel {
    fn default() -> Self {
        ConcurrencyLevel(Self::DEFAULT)
    }
}

impl fmt::Display for ConcurrencyLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl TryFrom<u32> for ConcurrencyLevel {
    type Error = String;

    fn try_from(level: u32) -> Result<Self, Self::Error> {
        Self::new(level)
    }
}

impl From<ConcurrencyLevel> for u8 {
    fn from(level: ConcurrencyLevel) -> Self {
        level.0
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn bounds_and_default() {
        assert_eq!(ConcurrencyLevel::default().get(), 10);
        assert_eq!(ConcurrencyLevel::new(1).unwrap().get(), 1);
        assert_eq!(ConcurrencyLevel::new(50).unwrap().get(), 50);
        for bad in [0, 51, 256, u32::MAX] {
            assert!(
                ConcurrencyLevel::new(bad)
                    .unwrap_err()
                    .contains("from 1 to 50"),
                "{bad}"
            );
        }
    }

    #[test]
    fn parses_text() {
        assert_eq!(ConcurrencyLevel::parse(" 25 ").unwrap().get(), 25);
        for bad in ["", "ten", "-1", "2.5", "0", "51", "99999999999"] {
            assert!(
                ConcurrencyLevel::parse(bad)
                    .unwrap_err()
                    .contains("from 1 to 50"),
                "{bad}"
            );
        }
    }

    #[test]
    fn serde_is_a_checked_number() {
        let level = ConcurrencyLevel::new(7).unwrap();
        assert_eq!(serde_json::to_string(&level).unwrap(), "7");
        assert_eq!(
            serde_json::from_str::<ConcurrencyLevel>("7").unwrap(),
            level
        );
        assert!(serde_json::from_str::<ConcurrencyLevel>("0").is_err());
        assert!(serde_json::from_str::<ConcurrencyLevel>("51").is_err());
    }
}
