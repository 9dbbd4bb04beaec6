//! The real time source.
//!
//! [`SystemClock`] is the domain's [`Clock`] on the real UTC time and tokio's timer. It lives
//! here, the lowest crate with an async runtime, so that the domain stays free of one; every
//! other crate is handed a `Clock` (this one in production, a
//! [`ManualClock`](jiralink_domain::ManualClock) in tests, whose sleeps return at once).

use std::time::Duration;

use jiralink_domain::{Clock, Sleep};
use time::OffsetDateTime;

/// The real UTC time; sleeps on the tokio timer (so they need a tokio runtime).
#[derive(Copy, Clone, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(clippy::disallowed_methods, reason = "the one real clock")]
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_reads_utc() {
        assert!(SystemClock.now().offset().is_utc());
    }
}
