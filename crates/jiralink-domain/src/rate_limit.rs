//! A connection's rate-limit handling: whether requests Jira refuses for being over its rate
//! limit (429, or 503 while it sheds load) are waited out and sent again, and how many times.
//!
//! Invariants: `max_retries` is 0 to 10 inclusive; the defaults (recover automatically, at most
//! 4 retries) are what connections stored before the setting existed behave as, so settings
//! without it deserialise to them.

use serde::{Deserialize, Serialize};

/// How a connection reacts when Jira says it is sending too much.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitHandling {
    /// Wait (as long as `Retry-After` asks, within the client's cap) and send again. Off: the
    /// caller gets the rate-limit error at once and decides itself.
    pub auto_recover: bool,
    /// Retries after the first attempt, 0 to 10.
    #[serde(deserialize_with = "max_retries_from_number")]
    pub max_retries: u8,
}

impl RateLimitHandling {
    /// The most retries a connection may make.
    pub const MAX_RETRIES: u8 = 10;
    /// Retries when none are set.
    pub const DEFAULT_MAX_RETRIES: u8 = 4;

    /// Reads the two form values; absent or blank values take the defaults. Each error is for
    /// its own field: `(auto_recover, max_retries)`.
    ///
    /// # Errors
    /// A message per field whose value cannot be read, saying what to enter.
    pub fn parse(
        auto_recover: Option<&str>,
        max_retries: Option<&str>,
    ) -> Result<RateLimitHandling, (Option<String>, Option<String>)> {
        let recover = match auto_recover.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(true),
            Some(raw) => parse_switch(raw),
        };
        let retries = match max_retries.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(Self::DEFAULT_MAX_RETRIES),
            Some(raw) => parse_retries(raw),
        };
        match (recover, retries) {
            (Ok(auto_recover), Ok(max_retries)) => Ok(RateLimitHandling {
                auto_recover,
                max_retries,
            }),
            (recover, retries) => Err((recover.err(), retries.err())),
        }
    }

    /// `on` or `off`, as forms and flags write it.
    #[must_use]
    pub const fn auto_recover_label(self) -> &'static str {
        if self.auto_recover { "on" } else { "off" }
    }
}

impl Default for RateLimitHandling {
    fn default() -> Self {
        RateLimitHandling {
            auto_recover: true,
            max_retries: Self::DEFAULT_MAX_RETRIES,
        }
    }
}

const SWITCH_HINT: &str = "enter on (wait and send again when Jira asks to slow down) or off \
                           (report the rate limit at once)";
const RETRIES_HINT: &str = "enter a whole number of retries from 0 to 10 (the default is 4)";

fn parse_switch(raw: &str) -> Result<bool, String> {
    match raw.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        // The value is not repeated: a secret pasted into the wrong field must not come back.
        _ => Err(format!("the value is not on or off: {SWITCH_HINT}")),
    }
}

fn parse_retries(raw: &str) -> Result<u8, String> {
    match raw.parse::<u64>() {
        Ok(n) if n <= u64::from(RateLimitHandling::MAX_RETRIES) => {
            u8::try_from(n).map_err(|_| RETRIES_HINT.to_owned())
        }
        Ok(n) => Err(format!("{n} is out of range: {RETRIES_HINT}")),
        Err(_) => Err(format!("the value is not a whole number: {RETRIES_HINT}")),
    }
}

fn max_retries_from_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    let n = u8::deserialize(d)?;
    if n > RateLimitHandling::MAX_RETRIES {
        return Err(serde::de::Error::custom(format!(
            "{n} is out of range: {RETRIES_HINT}"
        )));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn absent_or_blank_values_take_the_defaults() {
        let default = RateLimitHandling {
            auto_recover: true,
            max_retries: 4,
        };
        assert_eq!(RateLimitHandling::default(), default);
        assert_eq!(RateLimitHandling::parse(None, None), Ok(default));
        assert_eq!(RateLimitHandling::parse(Some(" "), Some("")), Ok(default));
    }

    #[test]
    fn reads_switches_and_counts() {
        for (raw, want) in [
            ("on", true),
            ("OFF", false),
            ("true", true),
            (" false ", false),
        ] {
            assert_eq!(
                RateLimitHandling::parse(Some(raw), None)
                    .unwrap()
                    .auto_recover,
                want,
                "{raw}"
            );
        }
        for n in [0u8, 4, 10] {
            assert_eq!(
                RateLimitHandling::parse(None, Some(&n.to_string()))
                    .unwrap()
                    .max_retries,
                n
            );
        }
    }

    #[test]
    fn reports_each_bad_field_with_what_to_enter() {
        let (recover, retries) = RateLimitHandling::parse(Some("maybe"), Some("11")).unwrap_err();
        assert!(recover.unwrap().contains("on or off"));
        assert!(retries.unwrap().contains("from 0 to 10"));
        let (recover, retries) = RateLimitHandling::parse(Some("on"), Some("-1")).unwrap_err();
        assert_eq!(recover, None);
        assert!(retries.unwrap().contains("not a whole number"));
        let pasted = "CANARY-secret-3f9a";
        let (recover, retries) = RateLimitHandling::parse(Some(pasted), Some(pasted)).unwrap_err();
        assert!(!recover.unwrap().contains(pasted));
        assert!(!retries.unwrap().contains(pasted));
    }

    #[test]
    fn serde_defaults_and_checks_the_range() {
        assert_eq!(
            serde_json::from_str::<RateLimitHandling>("{}").unwrap(),
            RateLimitHandling::default()
        );
        let off = RateLimitHandling {
            auto_recover: false,
            max_retries: 2,
        };
        let json = serde_json::to_value(off).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"auto_recover": false, "max_retries": 2})
        );
        assert_eq!(
            serde_json::from_value::<RateLimitHandling>(json).unwrap(),
            off
        );
        assert!(serde_json::from_str::<RateLimitHandling>(r#"{"max_retries": 11}"#).is_err());
    }

    proptest! {
        #[test]
        fn any_count_is_accepted_exactly_within_range(n in 0u64..1000) {
            let parsed = RateLimitHandling::parse(None, Some(&n.to_string()));
            prop_assert_eq!(parsed.is_ok(), n <= 10);
            if let Ok(h) = parsed {
                prop_assert_eq!(u64::from(h.max_retries), n);
            }
        }
    }
}
