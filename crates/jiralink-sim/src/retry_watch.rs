//! What clients do after a failed attempt, seen from the server: whether a request told to wait
//! (`Retry-After` on a 429 or 503) came back sooner than asked, and how many times one request
//! was sent in a row while it kept failing.
//!
//! A *client* is one set of credentials on one host (the `Authorization` and `Host` headers); a
//! *request* is its method, path with query and body. The same request from the same client
//! after a failed attempt is its retry. Times are the simulator clock's, so a client whose
//! clock is the simulator's (a test's) makes time pass only by waiting on it, and a retry sent
//! without waiting shows as early whatever the client believes it did.
//!
//! An attempt *failed* when it was answered 429 or 5xx, or not answered at all (a reset, a
//! lost or cut answer). A run of failed attempts of one request ends with an attempt that did
//! not fail; the longest run plus that attempt is the most attempts one request took.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Early retries kept as examples in a [`RetryReport`].
const EXAMPLES: usize = 20;

/// A retry sent sooner than its `Retry-After` asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlyRetry {
    /// `METHOD path`.
    pub request: String,
    /// The `Retry-After` the previous answer carried, in seconds.
    pub retry_after_secs: u64,
    /// How long after that answer the request came again, in milliseconds.
    pub waited_ms: u64,
}

/// The retry after a `Retry-After` that waited the least beyond what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TightestWait {
    /// The `Retry-After` given, in seconds.
    pub retry_after_secs: u64,
    /// How long the client waited, in milliseconds.
    pub waited_ms: u64,
}

/// What the simulator saw clients do after failed attempts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryReport {
    /// Requests seen (control requests excluded).
    pub requests: u64,
    /// Requests that were the same request again after a failed attempt.
    pub retries: u64,
    /// Answers that carried `Retry-After`.
    pub told_to_wait: u64,
    /// Requests told to wait that came again.
    pub came_again: u64,
    /// Of those, the ones that came sooner than asked.
    pub early: u64,
    /// The first [`EXAMPLES`] early retries.
    pub early_examples: Vec<EarlyRetry>,
    /// The retry that waited the least beyond its `Retry-After`.
    pub tightest: Option<TightestWait>,
    /// The most attempts one reading request took (a run of failed attempts and the next one).
    pub max_attempts_read: u32,
    /// The same for writes (see [`crate::knobs::is_write`]).
    pub max_attempts_write: u32,
}

#[derive(Debug, Clone, Copy)]
struct Told {
    at: OffsetDateTime,
    secs: u64,
}

#[derive(Debug, Default)]
struct WatchState {
    /// Requests told to wait, until they come again.
    told: HashMap<(u64, u64), Told>,
    /// Failed attempts in a row of each request whose last attempt failed.
    failing: HashMap<(u64, u64), u32>,
    report: RetryReport,
}

/// The watch over one simulator's clients (a typed slot of [`crate::state::SimState`]).
#[derive(Debug, Default)]
pub struct RetryWatch {
    state: Mutex<WatchState>,
}

/// Who sent a request and which request it is, as [`RetryWatch`] tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Attempt {
    client: u64,
    request: u64,
    write: bool,
}

impl Attempt {
    /// The client (`authorization` and `host` header values) and the request (method, path
    /// with query, body) of one request.
    pub fn of(
        authorization: Option<&[u8]>,
        host: Option<&[u8]>,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        write: bool,
    ) -> Self {
        let mut client = DefaultHasher::new();
        authorization.hash(&mut client);
        host.hash(&mut client);
        let mut request = DefaultHasher::new();
        method.hash(&mut request);
        path_and_query.hash(&mut request);
        body.hash(&mut request);
        Self {
            client: client.finish(),
            request: request.finish(),
            write,
        }
    }

    fn key(self) -> (u64, u64) {
        (self.client, self.request)
    }
}

impl RetryWatch {
    fn lock(&self) -> std::sync::MutexGuard<'_, WatchState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes that `attempt` arrived at `now` (`label` names it in an early retry).
    pub fn arrive(&self, attempt: Attempt, label: &str, now: OffsetDateTime) {
        let mut s = self.lock();
        s.report.requests += 1;
        let key = attempt.key();
        let tries = s.failing.get(&key).copied().unwrap_or(0) + 1;
        if tries > 1 {
            s.report.retries += 1;
        }
        let most = if attempt.write {
            &mut s.report.max_attempts_write
        } else {
            &mut s.report.max_attempts_read
        };
        *most = (*most).max(tries);
        if let Some(told) = s.told.remove(&key) {
            let waited = now - told.at;
            let waited_ms = u64::try_from(waited.whole_milliseconds()).unwrap_or(0);
            let asked_ms = told.secs.saturating_mul(1000);
            s.report.came_again += 1;
            if waited_ms < asked_ms {
                s.report.early += 1;
                if s.report.early_examples.len() < EXAMPLES {
                    s.report.early_examples.push(EarlyRetry {
                        request: label.to_owned(),
                        retry_after_secs: told.secs,
                        waited_ms,
                    });
                }
            }
            let margin =
                |t: &TightestWait| i128::from(t.waited_ms) - i128::from(t.retry_after_secs) * 1000;
            let this = TightestWait {
                retry_after_secs: told.secs,
                waited_ms,
            };
            if s.report.tightest.is_none_or(|t| margin(&this) < margin(&t)) {
                s.report.tightest = Some(this);
            }
        }
    }

    /// Notes how `attempt` ended at `now`: whether it failed, and the `Retry-After` seconds its
    /// answer carried.
    pub fn answered(
        &self,
        attempt: Attempt,
        failed: bool,
        retry_after: Option<u64>,
        now: OffsetDateTime,
    ) {
        let mut s = self.lock();
        let key = attempt.key();
        if failed {
            *s.failing.entry(key).or_insert(0) += 1;
        } else {
            s.failing.remove(&key);
        }
        if let Some(secs) = retry_after {
            s.report.told_to_wait += 1;
            s.told.insert(key, Told { at: now, secs });
        }
    }

    /// What was seen so far.
    pub fn report(&self) -> RetryReport {
        self.lock().report.clone()
    }

    /// Forgets everything seen.
    pub fn clear(&self) {
        *self.lock() = WatchState::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn attempt(body: &str, write: bool) -> Attempt {
        Attempt::of(
            Some(b"Basic a"),
            Some(b"h"),
            "POST",
            "/rest/api/3/x",
            body.as_bytes(),
            write,
        )
    }

    #[test]
    fn a_retry_before_its_retry_after_is_early_and_one_after_is_not() {
        let watch = RetryWatch::default();
        let t0 = datetime!(2026-01-01 00:00 UTC);
        let a = attempt("a", false);
        watch.arrive(a, "POST a", t0);
        watch.answered(a, true, Some(3), t0);
        watch.arrive(a, "POST a", t0 + time::Duration::milliseconds(2_999));
        watch.answered(a, true, Some(2), t0 + time::Duration::milliseconds(2_999));
        watch.arrive(a, "POST a", t0 + time::Duration::seconds(5));
        watch.answered(a, false, None, t0 + time::Duration::seconds(5));
        let r = watch.report();
        assert_eq!(
            (r.requests, r.retries, r.told_to_wait, r.came_again),
            (3, 2, 2, 2)
        );
        assert_eq!(r.early, 1);
        assert_eq!(
            r.early_examples,
            vec![EarlyRetry {
                request: "POST a".to_owned(),
                retry_after_secs: 3,
                waited_ms: 2_999,
            }]
        );
        assert_eq!(
            r.tightest,
            Some(TightestWait {
                retry_after_secs: 3,
                waited_ms: 2_999
            })
        );
        assert_eq!((r.max_attempts_read, r.max_attempts_write), (3, 0));
    }

    #[test]
    fn runs_of_failures_count_per_client_and_request_and_end_with_a_success() {
        let watch = RetryWatch::default();
        let t = datetime!(2026-01-01 00:00 UTC);
        let (a, b) = (attempt("a", true), attempt("b", true));
        let other_client = Attempt::of(
            Some(b"Basic b"),
            Some(b"h"),
            "POST",
            "/rest/api/3/x",
            b"a",
            true,
        );
        for _ in 0..3 {
            watch.arrive(a, "a", t);
            watch.answered(a, true, None, t);
        }
        // Other requests and other clients have runs of their own.
        watch.arrive(b, "b", t);
        watch.answered(b, false, None, t);
        watch.arrive(other_client, "a", t);
        watch.answered(other_client, false, None, t);
        watch.arrive(a, "a", t);
        watch.answered(a, false, None, t);
        // After a success the same request starts a new run.
        watch.arrive(a, "a", t);
        watch.answered(a, false, None, t);
        let r = watch.report();
        assert_eq!(r.max_attempts_write, 4);
        assert_eq!(r.retries, 3);
        assert_eq!(r.told_to_wait, 0);
        assert_eq!(r.tightest, None);
        watch.clear();
        assert_eq!(watch.report(), RetryReport::default());
    }
}
