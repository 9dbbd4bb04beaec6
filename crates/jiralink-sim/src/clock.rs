//! The simulator's clock: every time-dependent rule (token and code expiry, refresh leeway, index
//! lag, rate-limit windows, the hourly quota) reads [`SimClock::now`], never the system clock.
//!
//! The clock starts in *system* mode (it follows the wall clock). Tests call
//! [`SimClock::freeze`] (or start the simulator with [`ClockMode::Manual`]) and then
//! [`SimClock::advance`], so they never sleep. In system mode `advance` adds an offset, so a
//! `jiralink sim` user can also jump forward (for example past token expiry) through the control API.
//!
//! [`SimClock::sleep_until`] waits for simulated time: in manual mode it wakes when `advance`
//! moves the clock past the deadline; in system mode it also wakes on real time.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::watch;

/// How the simulator clock starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode", content = "at")]
pub enum ClockMode {
    /// Follow the system clock (plus any offset added by [`SimClock::advance`]).
    #[default]
    System,
    /// Stand still at the given instant until advanced.
    #[serde(with = "time::serde::rfc3339")]
    Manual(OffsetDateTime),
}

#[derive(Debug, Clone, Copy)]
struct ClockInner {
    /// `Some(t)`: frozen at `t`; `None`: follow the system clock.
    frozen: Option<OffsetDateTime>,
    offset: Duration,
}

/// The injected clock shared by the whole simulator. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SimClock {
    inner: Arc<Mutex<ClockInner>>,
    /// Bumped on every change so `sleep_until` re-reads the time.
    changed: Arc<watch::Sender<u64>>,
}

#[expect(
    clippy::disallowed_methods,
    reason = "the simulator's one real clock source; everything else goes through SimClock"
)]
fn system_now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

impl SimClock {
    /// Creates a clock in the given mode.
    pub fn new(mode: ClockMode) -> Self {
        let frozen = match mode {
            ClockMode::System => None,
            ClockMode::Manual(at) => Some(at),
        };
        let (tx, _rx) = watch::channel(0);
        Self {
            inner: Arc::new(Mutex::new(ClockInner {
                frozen,
                offset: Duration::ZERO,
            })),
            changed: Arc::new(tx),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn notify(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// The current simulated time (UTC).
    pub fn now(&self) -> OffsetDateTime {
        let inner = *self.lock();
        inner.frozen.unwrap_or_else(system_now) + inner.offset
    }

    /// Moves simulated time forward.
    pub fn advance(&self, by: Duration) {
        {
            let mut inner = self.lock();
            match inner.frozen.as_mut() {
                Some(at) => *at += by,
                None => inner.offset += by,
            }
        }
        self.notify();
    }

    /// Stops the clock at its current reading; it then only moves with [`SimClock::advance`].
    pub fn freeze(&self) {
        let now = self.now();
        self.set(now);
    }

    /// Freezes the clock at `at`.
    pub fn set(&self, at: OffsetDateTime) {
        {
            let mut inner = self.lock();
            inner.frozen = Some(at);
            inner.offset = Duration::ZERO;
        }
        self.notify();
    }

    /// Returns to following the system clock (dropping any offset).
    pub fn resume_system(&self) {
        {
            let mut inner = self.lock();
            inner.frozen = None;
            inner.offset = Duration::ZERO;
        }
        self.notify();
    }

    /// The current mode, for the control API.
    pub fn mode(&self) -> ClockMode {
        let frozen = self.lock().frozen;
        match frozen {
            Some(_) => ClockMode::Manual(self.now()),
            None => ClockMode::System,
        }
    }

    /// Waits until simulated time reaches `deadline`.
    pub async fn sleep_until(&self, deadline: OffsetDateTime) {
        let mut rx = self.changed.subscribe();
        loop {
            let now = self.now();
            if now >= deadline {
                return;
            }
            let frozen = self.lock().frozen.is_some();
            if frozen {
                if rx.changed().await.is_err() {
                    return;
                }
            } else {
                let remaining = Duration::try_from(deadline - now).unwrap_or(Duration::ZERO);
                tokio::select! {
                    _ = tokio::time::sleep(remaining) => {}
                    changed = rx.changed() => if changed.is_err() { return },
                }
            }
        }
    }
}

impl Default for SimClock {
    fn default() -> Self {
        Self::new(ClockMode::System)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = SimClock::new(ClockMode::Manual(datetime!(2026-01-01 00:00 UTC)));
        assert_eq!(clock.now(), datetime!(2026-01-01 00:00 UTC));
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), datetime!(2026-01-01 00:01:30 UTC));
    }

    #[test]
    fn system_clock_advance_adds_an_offset() {
        let clock = SimClock::default();
        let before = clock.now();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now() - before >= time::Duration::hours(1));
        clock.resume_system();
        assert!(clock.now() - before < time::Duration::hours(1));
    }

    #[tokio::test]
    async fn sleep_until_wakes_on_advance() {
        let clock = SimClock::new(ClockMode::Manual(datetime!(2026-01-01 00:00 UTC)));
        let waiter = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep_until(datetime!(2026-01-01 00:00:10 UTC)).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        clock.advance(Duration::from_secs(10));
        waiter.await.expect("waiter finishes");
    }
}
