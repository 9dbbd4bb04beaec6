//! `Retry-After`, `X-RateLimit-Reset` and `RateLimit-Reason` as Jira sends them with 429 and
//! 5xx answers, through the client's classification of an answer and its retry policy.
//!
//! Invariants: nothing panics; delay-seconds read as themselves; a wait never grows as time
//! passes; a 429 carries exactly the `Retry-After` the parser reads; the retry loop's floor is
//! that wait (else the time to the reset, never negative); a retry waits at least the floor
//! and at most the policy's cap; no error text repeats the request's secret.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use jiralink_atlassian::{AtlassianError, RetryPolicy, fuzzing, parse_retry_after};
use jiralink_fuzz::{Seed, seed};
use libfuzzer_sys::fuzz_target;
use time::{OffsetDateTime, macros::datetime};

const SECRET: &str = "CANARY-request-secret-41";
const START: OffsetDateTime = datetime!(2026-01-05 09:30 UTC);

#[derive(Debug, Arbitrary)]
enum Name {
    RetryAfter,
    Reset,
    Reason,
    ContentType,
    Other(String),
}

impl Name {
    fn text(&self) -> &str {
        match self {
            Self::RetryAfter => "retry-after",
            Self::Reset => "x-ratelimit-reset",
            Self::Reason => "ratelimit-reason",
            Self::ContentType => "content-type",
            Self::Other(name) => name,
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    status: u16,
    status_choice: u8,
    headers: Vec<(Name, String)>,
    body: Vec<u8>,
    /// Seconds after `START` the answer arrives.
    at_secs: u32,
    later_secs: u32,
    retries_done: u8,
    jitter: f64,
    recover: bool,
}

fuzz_target!(|data: &[u8]| {
    let input = match seed::<Input>(data) {
        Some(Seed::Raw { kind, bytes }) => {
            let value = String::from_utf8_lossy(bytes).into_owned();
            Input {
                status: 429,
                status_choice: 0,
                headers: vec![(
                    if kind % 2 == 0 {
                        Name::RetryAfter
                    } else {
                        Name::Reset
                    },
                    value,
                )],
                body: Vec::new(),
                at_secs: 0,
                later_secs: 90,
                retries_done: 0,
                jitter: 1.0,
                recover: true,
            }
        }
        Some(Seed::Structured(input)) => input,
        None => return,
    };
    let now = START + Duration::from_secs(u64::from(input.at_secs));
    let later = now + Duration::from_secs(u64::from(input.later_secs));
    let status = match input.status_choice % 4 {
        0 => 429,
        1 => 503,
        2 => 500 + input.status % 100,
        _ => input.status,
    };
    let headers: Vec<(String, String)> = input
        .headers
        .iter()
        .map(|(n, v)| (n.text().to_owned(), v.clone()))
        .collect();

    for (name, value) in &headers {
        if !name.eq_ignore_ascii_case("retry-after") {
            continue;
        }
        let wait = parse_retry_after(value, now);
        if let Ok(secs) = value.trim().parse::<u64>() {
            assert_eq!(wait, Some(Duration::from_secs(secs)), "{value:?}");
        }
        let wait_later = parse_retry_after(value, later);
        assert_eq!(wait.is_some(), wait_later.is_some(), "{value:?}");
        if let (Some(w), Some(l)) = (wait, wait_later) {
            assert!(l <= w, "{value:?}: the wait grew from {w:?} to {l:?}");
        }
    }

    let error = fuzzing::classify(status, &headers, &input.body, now, &[SECRET]);
    assert!(!error.to_string().contains(SECRET), "the secret in {error}");
    let map = fuzzing::header_map(&headers);
    let first_retry_after = map
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, now));
    match &error {
        AtlassianError::RateLimited { retry_after, .. } => {
            assert_eq!(status, 429);
            assert_eq!(*retry_after, first_retry_after);
        }
        AtlassianError::Server { retry_after, .. } => {
            assert_eq!(*retry_after, first_retry_after);
        }
        _ => {}
    }

    let floor = fuzzing::wait_floor(&error, now);
    match (&error, error.retry_after()) {
        (_, Some(wait)) => assert_eq!(floor, Some(wait)),
        (
            AtlassianError::RateLimited {
                reset: Some(reset), ..
            },
            None,
        ) => {
            let until = *reset - now;
            let expected = if until.is_negative() {
                Duration::ZERO
            } else {
                Duration::try_from(until).unwrap_or(Duration::ZERO)
            };
            assert_eq!(floor, Some(expected));
        }
        _ => assert_eq!(floor, None),
    }

    let policy = RetryPolicy {
        recover_rate_limits: input.recover,
        ..RetryPolicy::default()
    };
    if let Some(wait) = policy.next_wait(u32::from(input.retries_done), &error, floor, input.jitter)
    {
        assert!(wait <= policy.max_delay, "{wait:?} beyond the cap");
        assert!(
            wait >= floor.unwrap_or_default(),
            "{wait:?} below the floor"
        );
        assert!(error.is_retryable());
        assert!(u32::from(input.retries_done) < policy.max_retries);
    }
});
