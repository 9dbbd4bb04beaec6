//! Time as a dependency.
//!
//! Everything that reads the time takes a [`Clock`]. [`SystemClock`] is the only place the real
//! time is read; tests drive a [`ManualClock`] instead of sleeping.

use std::{
    fmt,
    sync::{Arc, Mutex, PoisonError},
};

use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
}

/// The real UTC time.
#[derive(Copy, Clone, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(clippy::disallowed_methods, reason = "the one real clock")]
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Clone)]
pub struct ManualClock {
    now: Arc<Mutex<OffsetDateTime>>,
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
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the time on by `by` (back, for a negative `time::Duration`), saturating at the
    /// ends of the representable range.
    pub fn advance(&self, by: impl ClockStep) {
        let by = by.to_time_duration();
        let mut now = self.lock();
        *now = now.checked_add(by).unwrap_or(if by.is_negative() {
            OffsetDateTime::new_utc(time::Date::MIN, time::Time::MIDNIGHT)
        } else {
            OffsetDateTime::new_utc(time::Date::MAX, time::Time::MAX)
        });
    }

    /// Sets the time to `to`.
    pub fn set(&self, to: OffsetDateTime) {
        *self.lock() = to;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OffsetDateTime> {
        // The guarded value is a plain timestamp, always whole, so a panic elsewhere while the
        // lock was held cannot have left it inconsistent.
        self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.lock()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &*self.lock())
            .finish()
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> OffsetDateTime {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> OffsetDateTime {
        (**self).now()
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

    #[test]
    fn system_clock_reads_utc() {
        assert!(SystemClock.now().offset().is_utc());
    }
}
