//! Time as a dependency: one injected time source for reading the time and for waiting.
//!
//! Everything that reads the time or waits takes a [`Clock`]: token expiry, `Retry-After`,
//! leases, the waits between retries and polls. Tests drive a [`ManualClock`], whose sleeps
//! return at once, so tests never sleep.
//!
//! The real clock, `SystemClock`, is in `jiralink-atlassian`: sleeping needs tokio's timer,
//! and this crate stays free of an async runtime. It is the only place the real time is read
//! (`clippy.toml` forbids `OffsetDateTime::now_utc` and `std::thread::sleep` elsewhere).

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use time::OffsetDateTime;

/// A wait handed out by [`Clock::sleep`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A source of the current time, and the one way to wait.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> OffsetDateTime;

    /// Completes once `duration` has passed on this clock.
    fn sleep(&self, duration: Duration) -> Sleep;
}

/// A clock that moves only when told to, or when something sleeps on it: a sleep records the
/// wait, moves the time on by it and returns at once. Clones share the same time and waits.
#[derive(Clone)]
pub struct ManualClock {
    state: Arc<Mutex<Manual>>,
}

struct Manual {
    now: OffsetDateTime,
    waits: Vec<Duration>,
}

/// A span a [`ManualClock`] can advance by: `time::Duration` (which may be negative) or
/// `std::time::Duration`.
pub trait ClockStep {
    /// The step as a signed duration, saturating at the largest representable one.
    fn to_time_duration(self) -> time::Duration;
}

impl ClockStep for time::Duration {
    fn to_time_duration(self) -> time::Duration {
        self
    }
}

impl ClockStep for std::time::Duration {
    fn to_time_duration(self) -> time::Duration {
        time::Duration::try_from(self).unwrap_or(time::Duration::MAX)
    }
}

impl ManualClock {
    /// A clock showing `start`.
    #[must_use]
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            state: Arc::new(Mutex::new(Manual {
                now: start,
                waits: Vec::new(),
            })),
        }
    }

    /// Moves the time on by `by` (back, for a negative `time::Duration`), saturating at the
    /// ends of the representable range.
    pub fn advance(&self, by: impl ClockStep) {
        let by = by.to_time_duration();
        let mut state = self.lock();
        state.now = state.now.checked_add(by).unwrap_or(if by.is_negative() {
            OffsetDateTime::new_utc(time::Date::MIN, time::Time::MIDNIGHT)
        } else {
            OffsetDateTime::new_utc(time::Date::MAX, time::Time::MAX)
        });
    }

    /// Sets the time to `to`.
    pub fn set(&self, to: OffsetDateTime) {
        self.lock().now = to;
    }

    /// Every wait slept on this clock (or a clone of it) so far, in order.
    #[must_use]
    pub fn waits(&self) -> Vec<Duration> {
        self.lock().waits.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Manual> {
        // The guarded values are a plain timestamp and a list, each always whole, so a panic
        // elsewhere while the lock was held cannot have left them inconsistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        self.lock().now
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        self.lock().waits.push(duration);
        self.advance(duration);
        Box::pin(std::future::ready(()))
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("ManualClock")
            .field("now", &state.now)
            .field("waits", &state.waits.len())
            .finish()
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> OffsetDateTime {
        (**self).now()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        (**self).sleep(duration)
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> OffsetDateTime {
        (**self).now()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        (**self).sleep(duration)
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use time::macros::datetime;

    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(datetime!(2025-03-01 12:00 UTC));
        assert_eq!(clock.now(), datetime!(2025-03-01 12:00 UTC));
        assert_eq!(clock.now(), datetime!(2025-03-01 12:00 UTC));
        clock.advance(time::Duration::minutes(90));
        assert_eq!(clock.now(), datetime!(2025-03-01 13:30 UTC));
        clock.advance(std::time::Duration::from_secs(30));
        assert_eq!(clock.now(), datetime!(2025-03-01 13:30:30 UTC));
        clock.advance(time::Duration::hours(-1));
        assert_eq!(clock.now(), datetime!(2025-03-01 12:30:30 UTC));
        clock.set(datetime!(2030-01-01 00:00 UTC));
        assert_eq!(clock.now(), datetime!(2030-01-01 00:00 UTC));
    }

    #[test]
    fn clones_share_the_time() {
        let clock = ManualClock::new(datetime!(2025-03-01 12:00 UTC));
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        clock.advance(time::Duration::days(1));
        assert_eq!(shared.now(), datetime!(2025-03-02 12:00 UTC));
        assert!(format!("{clock:?}").contains("2025-03-02"));
    }

    #[test]
    fn advancing_saturates_instead_of_panicking() {
        let clock = ManualClock::new(datetime!(2025-03-01 12:00 UTC));
        clock.advance(std::time::Duration::MAX);
        assert_eq!(clock.now().date(), time::Date::MAX);
        clock.advance(time::Duration::MIN);
        assert_eq!(clock.now().date(), time::Date::MIN);
    }

    /// Whether `sleep` is over at its first poll.
    fn over_at_once(sleep: Sleep) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        std::pin::pin!(sleep).poll(&mut cx).is_ready()
    }

    #[test]
    fn sleeping_records_the_wait_and_moves_the_time_at_once() {
        let clock = ManualClock::new(datetime!(2026-01-05 09:30 UTC));
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        assert!(over_at_once(
            shared.sleep(std::time::Duration::from_secs(90))
        ));
        assert_eq!(clock.now(), datetime!(2026-01-05 09:31:30 UTC));
        let by_reference: &ManualClock = &clock;
        assert!(over_at_once(<&ManualClock as Clock>::sleep(
            &by_reference,
            std::time::Duration::from_millis(250)
        )));
        assert_eq!(
            clock.waits(),
            [
                std::time::Duration::from_secs(90),
                std::time::Duration::from_millis(250)
            ]
        );
        assert_eq!(clock.now(), datetime!(2026-01-05 09:31:30.25 UTC));
    }
}
