//! What a run did, recorded with every checkpoint.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Counts of one run, kept with each checkpoint so a resumed run continues them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RunStats {
    /// Records written, per kind (`issues`, `comments`, `deleted`, …).
    pub records: BTreeMap<String, u64>,
    /// Records read again (overlap window, page boundaries) and left out.
    pub duplicates_skipped: u64,
    /// Issues an id page listed that were gone when they were read in full (deleted, or no
    /// longer visible to the account, in between): `issue/bulkfetch` left them out twice.
    /// Logged at warn with their ids.
    pub vanished: u64,
    /// Output bytes written.
    pub bytes: u64,
    /// Pages read.
    pub pages: u64,
    /// Requests sent to Jira (every attempt).
    pub requests: u64,
    /// Attempts that were retried.
    pub retries: u64,
    /// Retries that waited because Jira limited the rate (429, or 503 while shedding load).
    pub rate_limit_waits: u64,
    /// Total time waited for those, in milliseconds.
    pub rate_limit_wait_ms: u64,
    /// How many records Jira expects (its approximate count), when known.
    pub expected: Option<u64>,
}

impl RunStats {
    /// Adds `n` records of `kind`.
    pub fn add_records(&mut self, kind: &str, n: u64) {
        if n > 0 {
            *self.records.entry(kind.to_owned()).or_default() += n;
        }
    }

    /// All records written, of every kind.
    #[must_use]
    pub fn total_records(&self) -> u64 {
        self.records.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_in_camel_case_and_reads_partial_json() {
        let mut s = RunStats::default();
        s.add_records("issues", 2);
        s.add_records("issues", 0);
        s.rate_limit_wait_ms = 5;
        s.vanished = 1;
        let json = serde_json::to_value(&s).unwrap_or_default();
        assert_eq!(json["records"]["issues"], 2);
        assert_eq!(json["rateLimitWaitMs"], 5);
        assert_eq!(json["vanished"], 1);
        let back: RunStats = serde_json::from_str(r#"{"pages":3}"#).unwrap_or_default();
        assert_eq!(back.pages, 3);
        assert_eq!(s.total_records(), 2);
    }
}
