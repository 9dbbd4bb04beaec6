//! When a failed request is sent again, and how long to wait first.
//!
//! | Failure | Safe to repeat (GET, search POSTs, webhook delete and refresh) | Not safe (create, edit, comment…) |
//! |---|---|---|
//! | 429, 503 | wait, retry | returned at once, with its `Retry-After` ([`AtlassianError::retry_after`]) |
//! | connect error (nothing sent) | retry | returned at once |
//! | timeout or reset after sending | retry | [`AtlassianError::Ambiguous`], never re-sent |
//! | 500, 502, 504 | wait, retry | returned at once; without a body (a proxy's) [`AtlassianError::Ambiguous`], never re-sent |
//! | 2xx larger than the answer cap | returned at once | [`AtlassianError::Ambiguous`], never re-sent |
//! | any other answer (400, 401, 403, 404, 409, 501…) | returned at once | returned at once |
//!
//! Writes are never sent again automatically: even when Jira says it did not apply one (429,
//! 503), whether and when to repeat it is the caller's decision, since it knows whether the
//! change is still wanted. The one exception is the bearer 401 refresh, handled by the client.
//!
//! The wait before retry *n* (1-based) is `base × 2^(n-1)` (2, 4, 8, 16 s) times a random
//! factor in the jitter range (0.7–1.3), at least the answer's `Retry-After` (seconds or an
//! HTTP-date; `X-RateLimit-Reset` when there is no `Retry-After`), and at most the cap (30 s).
//! When the server asks for more than the cap (an hourly quota), the error is returned at once
//! so the caller can park the whole connection until the reset instead of holding a request.
//! At most 4 retries, so at most 5 attempts.
//!
//! Time is injected: waits go through the client's [`Clock`], whose real one sleeps on tokio;
//! a [`ManualClock`](jiralink_domain::ManualClock) records the waits and returns at once, so
//! tests never sleep.

use std::{
    future::Future,
    ops::RangeInclusive,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use jiralink_domain::Clock;
use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::error::{AmbiguousCause, AtlassianError, TransportKind};

/// Whether an operation may be sent again when its outcome is unknown.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Replay {
    /// Reading only (GET, and the POST searches `search/jql`, `search/approximate-count`,
    /// `issue/bulkfetch`, `changelog/bulkfetch`), or idempotent (deleting and refreshing
    /// webhooks): repeating it changes nothing.
    Safe,
    /// Creating or changing something: repeating it after an unknown outcome could do it twice.
    Unsafe,
}

/// How failed requests are retried.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so `max_retries + 1` attempts at most).
    pub max_retries: u32,
    /// The wait before the first retry, doubled for each further one.
    pub base_delay: Duration,
    /// No single wait is longer; a `Retry-After` beyond it ends the retries.
    pub max_delay: Duration,
    /// The random factor applied to the exponential wait.
    pub jitter: RangeInclusive<f64>,
    /// Whether rate-limit refusals (429, and 503 while Jira sheds load) are waited out. Off,
    /// they reach the caller at once; connection failures are still retried.
    pub recover_rate_limits: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(30),
            jitter: 0.7..=1.3,
            recover_rate_limits: true,
        }
    }
}

impl RetryPolicy {
    /// Never retry (a connection test reports what happened instead of waiting).
    #[must_use]
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The wait before retry number `retries_done + 1`, or `None` to give up on `error`.
    /// `jitter` is a factor drawn from [`Self::jitter`]; `floor` the wait the server asked for.
    #[must_use]
    pub fn next_wait(
        &self,
        retries_done: u32,
        error: &AtlassianError,
        floor: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        if retries_done >= self.max_retries || !error.is_retryable() {
            return None;
        }
        if !self.recover_rate_limits
            && matches!(
                error,
                AtlassianError::RateLimited { .. } | AtlassianError::Server { status: 503, .. }
            )
        {
            return None;
        }
        if floor.is_some_and(|f| f > self.max_delay) {
            return None;
        }
        let factor = 2u32.saturating_pow(retries_done);
        let exponential = self.base_delay.saturating_mul(factor);
        let jitter = if jitter.is_finite() && jitter > 0.0 {
            jitter
        } else {
            1.0
        };
        let jittered = Duration::try_from_secs_f64(exponential.as_secs_f64() * jitter)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        Some(jittered.max(floor.unwrap_or(Duration::ZERO)))
    }
}

/// A source of jitter factors; seeded in tests for repeatable runs.
#[derive(Debug)]
pub struct Jitter {
    rng: Mutex<StdRng>,
}

impl Jitter {
    /// Jitter from the operating system's entropy.
    #[must_use]
    pub fn from_entropy() -> Self {
        Self {
            rng: Mutex::new(StdRng::from_entropy()),
        }
    }

    /// Repeatable jitter.
    #[must_use]
    pub fn seeded(seed: u64) -> Self {
        Self {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }

    fn sample(&self, range: &RangeInclusive<f64>) -> f64 {
        let (lo, hi) = (*range.start(), *range.end());
        if !(lo.is_finite() && hi.is_finite()) || lo >= hi {
            return if lo.is_finite() { lo } else { 1.0 };
        }
        self.rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .gen_range(lo..=hi)
    }
}

impl Default for Jitter {
    fn default() -> Self {
        Self::from_entropy()
    }
}

/// What a retry loop needs besides the request.
#[derive(Debug)]
pub(crate) struct RetryEnv<'a> {
    pub(crate) policy: &'a RetryPolicy,
    /// Reads the time for `X-RateLimit-Reset`, and waits.
    pub(crate) clock: &'a dyn Clock,
    pub(crate) jitter: &'a Jitter,
    /// Counts retries and rate-limit waits for whoever metered the client.
    pub(crate) meter: Option<&'a crate::meter::RequestMeter>,
}

/// Turns a failure of an unsafe operation whose effect is unknown into
/// [`AtlassianError::Ambiguous`]; everything else passes unchanged.
pub(crate) fn settle(
    error: AtlassianError,
    replay: Replay,
    operation: &'static str,
) -> AtlassianError {
    if replay == Replay::Safe {
        return error;
    }
    let cause = match &error {
        AtlassianError::Transport {
            kind,
            request_sent: true,
            ..
        } => match kind {
            TransportKind::Timeout => Some(AmbiguousCause::Timeout),
            TransportKind::Reset | TransportKind::Other => Some(AmbiguousCause::Reset),
            TransportKind::Dns | TransportKind::Connect | TransportKind::Tls => None,
        },
        AtlassianError::Server {
            status,
            bodiless: true,
            ..
        } if *status != 503 => Some(AmbiguousCause::BodilessServerError(*status)),
        // A success too large to read: the change was made, but what Jira made is unknown.
        AtlassianError::ResponseTooLarge { status, limit, .. } if (200..300).contains(status) => {
            Some(AmbiguousCause::AnswerTooLarge { limit: *limit })
        }
        _ => None,
    };
    match cause {
        Some(cause) => AtlassianError::Ambiguous { operation, cause },
        None => error,
    }
}

/// The least wait the error asks for: `Retry-After`, else the time until `X-RateLimit-Reset`.
pub(crate) fn floor_of(error: &AtlassianError, clock: &dyn Clock) -> Option<Duration> {
    if let Some(wait) = error.retry_after() {
        return Some(wait);
    }
    match error {
        AtlassianError::RateLimited {
            reset: Some(reset), ..
        } => {
            let wait = *reset - clock.now();
            Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
        }
        _ => None,
    }
}

/// Runs `attempt` (given the 1-based attempt number) until it succeeds, fails for good, or the
/// policy gives up.
pub(crate) async fn with_retries<T, F, Fut>(
    env: &RetryEnv<'_>,
    replay: Replay,
    operation: &'static str,
    mut attempt: F,
) -> Result<T, AtlassianError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, AtlassianError>>,
{
    let mut retries_done = 0;
    loop {
        let error = match attempt(retries_done + 1).await {
            Ok(value) => return Ok(value),
            Err(e) => settle(e, replay, operation),
        };
        if replay == Replay::Unsafe {
            return Err(error);
        }
        let floor = floor_of(&error, env.clock);
        let jitter = env.jitter.sample(&env.policy.jitter);
        let Some(wait) = env.policy.next_wait(retries_done, &error, floor, jitter) else {
            return Err(error);
        };
        let reason = match &error {
            AtlassianError::RateLimited { reason, .. } => reason.as_deref(),
            _ => None,
        };
        tracing::warn!(
            operation,
            attempt = retries_done + 1,
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            rate_limit_reason = reason,
            error = %error,
            "retrying jira request"
        );
        let rate_limited = matches!(
            error,
            AtlassianError::RateLimited { .. } | AtlassianError::Server { status: 503, .. }
        );
        if let Some(meter) = env.meter {
            meter.retry(rate_limited, wait);
        }
        if rate_limited {
            metrics::counter!("jiralink_rate_limit_waits_total").increment(1);
            // Counters hold whole numbers, so a wait counts rounded up to the next second.
            metrics::counter!("jiralink_rate_limit_wait_seconds_total")
                .increment(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
        }
        env.clock.sleep(wait).await;
        retries_done += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use std::sync::Arc;

    use jiralink_domain::ManualClock;
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;
    use time::macros::datetime;

    use super::*;

    fn rate_limited(secs: Option<u64>) -> AtlassianError {
        AtlassianError::RateLimited {
            retry_after: secs.map(Duration::from_secs),
            reason: Some("jira-burst-based".into()),
            reset: None,
        }
    }

    fn server(status: u16, bodiless: bool, retry_after: Option<u64>) -> AtlassianError {
        AtlassianError::Server {
            status,
            messages: vec![],
            retry_after: retry_after.map(Duration::from_secs),
            bodiless,
        }
    }

    fn transport(kind: TransportKind, request_sent: bool) -> AtlassianError {
        AtlassianError::Transport {
            kind,
            detail: String::new(),
            request_sent,
        }
    }

    #[test]
    fn exponential_waits_without_jitter() {
        let p = RetryPolicy::default();
        let e = rate_limited(None);
        let waits: Vec<_> = (0..5).map(|n| p.next_wait(n, &e, None, 1.0)).collect();
        assert_eq!(
            waits,
            [2, 4, 8, 16]
                .map(|s| Some(Duration::from_secs(s)))
                .into_iter()
                .chain([None])
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn jitter_scales_and_the_cap_holds() {
        let p = RetryPolicy {
            max_retries: 10,
            ..RetryPolicy::default()
        };
        let e = server(503, false, None);
        assert_eq!(
            p.next_wait(0, &e, None, 0.7),
            Some(Duration::from_millis(1400))
        );
        assert_eq!(
            p.next_wait(3, &e, None, 1.3),
            Some(Duration::from_millis(20_800))
        );
        assert_eq!(p.next_wait(4, &e, None, 1.3), Some(Duration::from_secs(30)));
        assert_eq!(p.next_wait(9, &e, None, 1.0), Some(Duration::from_secs(30)));
        assert_eq!(
            p.next_wait(0, &e, None, f64::NAN),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn retry_after_is_a_floor_and_beyond_the_cap_ends_retries() {
        let p = RetryPolicy::default();
        let e = rate_limited(Some(7));
        assert_eq!(
            p.next_wait(0, &e, Some(Duration::from_secs(7)), 1.3),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            p.next_wait(3, &e, Some(Duration::from_secs(7)), 1.0),
            Some(Duration::from_secs(16))
        );
        assert_eq!(
            p.next_wait(0, &e, Some(Duration::from_secs(1847)), 1.0),
            None
        );
    }

    #[test]
    fn rate_limits_can_be_left_to_the_caller() {
        let p = RetryPolicy {
            recover_rate_limits: false,
            ..RetryPolicy::default()
        };
        assert_eq!(p.next_wait(0, &rate_limited(Some(1)), None, 1.0), None);
        assert_eq!(p.next_wait(0, &server(503, false, None), None, 1.0), None);
        assert_eq!(
            p.next_wait(0, &transport(TransportKind::Connect, false), None, 1.0),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn only_retryable_errors_are_retried() {
        let p = RetryPolicy::default();
        for status in [500, 502, 503, 504] {
            for bodiless in [false, true] {
                assert_eq!(
                    p.next_wait(1, &server(status, bodiless, None), None, 1.0),
                    Some(Duration::from_secs(4)),
                    "{status}"
                );
            }
        }
        for e in [
            server(501, false, None),
            server(505, true, None),
            AtlassianError::Unauthorized { hint: None },
            AtlassianError::NotFound {
                message: None,
                html: false,
            },
            transport(TransportKind::Tls, false),
            transport(TransportKind::Dns, false),
        ] {
            assert_eq!(p.next_wait(0, &e, None, 1.0), None, "{e:?}");
        }
        assert_eq!(
            RetryPolicy::none().next_wait(0, &rate_limited(None), None, 1.0),
            None
        );
    }

    #[test]
    fn settle_marks_unknown_outcomes_of_unsafe_requests() {
        let ambiguous = |e| {
            matches!(
                settle(e, Replay::Unsafe, "createIssue"),
                AtlassianError::Ambiguous { .. }
            )
        };
        assert!(ambiguous(transport(TransportKind::Timeout, true)));
        assert!(ambiguous(transport(TransportKind::Reset, true)));
        assert!(ambiguous(server(502, true, None)));
        assert!(!ambiguous(transport(TransportKind::Connect, false)));
        assert!(!ambiguous(server(503, true, None)));
        assert!(!ambiguous(server(500, false, None)));
        assert!(!ambiguous(rate_limited(None)));
        assert!(matches!(
            settle(
                transport(TransportKind::Timeout, true),
                Replay::Safe,
                "getIssue"
            ),
            AtlassianError::Transport { .. }
        ));
    }

    #[test]
    fn writes_are_tried_once_and_hand_back_retry_after() {
        let policy = RetryPolicy::default();
        let clock = ManualClock::new(datetime!(2026-01-05 09:30 UTC));
        let jitter = Jitter::seeded(1);
        let env = RetryEnv {
            policy: &policy,
            clock: &clock,
            jitter: &jitter,
            meter: None,
        };
        let cases: [(fn() -> AtlassianError, _); 3] = [
            (|| server(503, false, Some(9)), Some(Duration::from_secs(9))),
            (|| rate_limited(Some(3)), Some(Duration::from_secs(3))),
            (|| transport(TransportKind::Connect, false), None),
        ];
        for (failure, retry_after) in cases {
            let attempts = Mutex::new(0u32);
            let result: Result<(), _> = futures::executor::block_on(with_retries(
                &env,
                Replay::Unsafe,
                "createIssue",
                |_| {
                    *attempts.lock().unwrap() += 1;
                    let e = failure();
                    async move { Err(e) }
                },
            ));
            let err = result.unwrap_err();
            assert_eq!(*attempts.lock().unwrap(), 1, "{err:?}");
            assert_eq!(err.retry_after(), retry_after);
        }
        assert!(clock.waits().is_empty());
    }

    #[test]
    fn the_reset_header_is_a_floor_without_retry_after() {
        let clock = ManualClock::new(datetime!(2026-01-05 09:30 UTC));
        let e = AtlassianError::RateLimited {
            retry_after: None,
            reason: None,
            reset: Some(datetime!(2026-01-05 09:30:05 UTC)),
        };
        assert_eq!(floor_of(&e, &clock), Some(Duration::from_secs(5)));
        let past = AtlassianError::RateLimited {
            retry_after: None,
            reason: None,
            reset: Some(datetime!(2026-01-05 09:00 UTC)),
        };
        assert_eq!(floor_of(&past, &clock), Some(Duration::ZERO));
    }

    #[test]
    fn jitter_stays_in_range() {
        let j = Jitter::seeded(7);
        for _ in 0..1000 {
            let f = j.sample(&(0.7..=1.3));
            assert!((0.7..=1.3).contains(&f));
        }
        assert_eq!(j.sample(&(1.0..=1.0)), 1.0);
    }

    /// A fault the server (or network) can produce for one attempt.
    #[derive(Clone, Debug)]
    enum Fault {
        Ok,
        TooMany(Option<u64>),
        Unavailable(Option<u64>),
        BodilessGateway,
        ServerWithBody,
        ResetAfterSend,
        TimeoutAfterSend,
        ConnectRefused,
        BadRequest,
        NotFound,
    }

    impl Fault {
        fn outcome(&self) -> Result<(), AtlassianError> {
            match self {
                Self::Ok => Ok(()),
                Self::TooMany(s) => Err(rate_limited(*s)),
                Self::Unavailable(s) => Err(server(503, false, *s)),
                Self::BodilessGateway => Err(server(502, true, None)),
                Self::ServerWithBody => Err(server(500, false, None)),
                Self::ResetAfterSend => Err(transport(TransportKind::Reset, true)),
                Self::TimeoutAfterSend => Err(transport(TransportKind::Timeout, true)),
                Self::ConnectRefused => Err(transport(TransportKind::Connect, false)),
                Self::BadRequest => Err(AtlassianError::BadRequest {
                    status: 400,
                    messages: vec![],
                    field_errors: Default::default(),
                }),
                Self::NotFound => Err(AtlassianError::NotFound {
                    message: None,
                    html: false,
                }),
            }
        }

        fn floor(&self) -> Option<Duration> {
            match self {
                Self::TooMany(s) | Self::Unavailable(s) => s.map(Duration::from_secs),
                _ => None,
            }
        }

        fn leaves_outcome_unknown(&self) -> bool {
            matches!(
                self,
                Self::BodilessGateway | Self::ResetAfterSend | Self::TimeoutAfterSend
            )
        }
    }

    fn fault() -> impl Strategy<Value = Fault> {
        prop_oneof![
            Just(Fault::Ok),
            proptest::option::of(0u64..60).prop_map(Fault::TooMany),
            proptest::option::of(0u64..60).prop_map(Fault::Unavailable),
            Just(Fault::BodilessGateway),
            Just(Fault::ServerWithBody),
            Just(Fault::ResetAfterSend),
            Just(Fault::TimeoutAfterSend),
            Just(Fault::ConnectRefused),
            Just(Fault::BadRequest),
            Just(Fault::NotFound),
        ]
    }

    proptest! {
        #[test]
        fn retry_loop_invariants(
            faults in proptest::collection::vec(fault(), 0..12),
            unsafe_op in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let policy = RetryPolicy::default();
            let clock = ManualClock::new(datetime!(2026-01-05 09:30 UTC));
            let jitter = Jitter::seeded(seed);
            let env = RetryEnv { policy: &policy, clock: &clock, jitter: &jitter, meter: None };
            let replay = if unsafe_op { Replay::Unsafe } else { Replay::Safe };
            let script: Arc<Mutex<VecDeque<Fault>>> = Arc::new(Mutex::new(faults.iter().cloned().collect()));
            let sent: Arc<Mutex<Vec<Fault>>> = Arc::default();
            let result = futures::executor::block_on(with_retries(&env, replay, "op", |_| {
                let next = script.lock().unwrap().pop_front().unwrap_or(Fault::Ok);
                sent.lock().unwrap().push(next.clone());
                let outcome = next.outcome();
                async move { outcome }
            }));
            let sent = sent.lock().unwrap().clone();
            let waits = clock.waits();

            prop_assert!(sent.len() <= 5, "{} attempts", sent.len());
            prop_assert_eq!(waits.len(), sent.len() - 1);
            for (fault, wait) in sent.iter().zip(&waits) {
                prop_assert!(*wait <= policy.max_delay, "{wait:?} over the cap");
                if let Some(floor) = fault.floor() {
                    prop_assert!(*wait >= floor, "{wait:?} under Retry-After {floor:?}");
                }
            }
            if unsafe_op
                && let Some(pos) = sent.iter().position(Fault::leaves_outcome_unknown)
            {
                prop_assert_eq!(pos, sent.len() - 1, "re-sent after an unknown outcome");
                let is_ambiguous = matches!(result, Err(AtlassianError::Ambiguous { .. }));
                prop_assert!(is_ambiguous);
            }
            if unsafe_op {
                prop_assert_eq!(sent.len(), 1, "a write was sent again");
                prop_assert!(waits.is_empty());
                if let Some(floor) = sent[0].floor() {
                    let carried = result.as_ref().err().and_then(AtlassianError::retry_after);
                    prop_assert_eq!(carried, Some(floor), "Retry-After not handed back");
                }
            }
            if result.is_ok() {
                prop_assert!(matches!(sent.last(), Some(Fault::Ok)));
            }
        }
    }
}
