//! Counting what one piece of work costs: requests sent, retries, and waits for rate limits.
//!
//! A [`RequestMeter`] is attached to a clone of a client with
//! [`JiraClient::metered`](crate::JiraClient::metered); every request through that clone (and
//! its clones) is counted, while the connection's other users are not. An export run counts
//! its own traffic this way.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

/// Counters shared by the requests of one piece of work. All counts only grow.
#[derive(Debug, Default)]
pub struct RequestMeter {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limit_waits: AtomicU64,
    rate_limit_wait_ms: AtomicU64,
}

/// The counts of a [`RequestMeter`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// Attempts sent (each retry is one more).
    pub requests: u64,
    /// Attempts that failed and were sent again.
    pub retries: u64,
    /// Retries that first waited because Jira limited the rate (429, or 503 while shedding load).
    pub rate_limit_waits: u64,
    /// The time spent in those waits, in milliseconds.
    pub rate_limit_wait_ms: u64,
}

impl RequestMeter {
    /// A meter at zero.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The counts now.
    #[must_use]
    pub fn counts(&self) -> RequestCounts {
        RequestCounts {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limit_waits: self.rate_limit_waits.load(Ordering::Relaxed),
            rate_limit_wait_ms: self.rate_limit_wait_ms.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retry(&self, rate_limited: bool, wait: Duration) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        if rate_limited {
            self.rate_limit_waits.fetch_add(1, Ordering::Relaxed);
            self.rate_limit_wait_ms.fetch_add(
                u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
        }
    }
}
