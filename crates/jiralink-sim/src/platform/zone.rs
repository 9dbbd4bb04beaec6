//! Date-times in the calling account's time zone, as Jira writes them (`…T10:30:00.000+0100`).
//!
//! Offsets come from jiff's bundled time-zone database (compiled in, so answers do not depend
//! on the machine's `/usr/share/zoneinfo` or its local zone). A search page formats dozens of
//! timestamps per issue, so each [`Zone`] remembers the spans between transitions it has
//! already looked up: after the first few look-ups a timestamp costs a short scan.

use std::cell::RefCell;

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Offset spans remembered per zone; a page rarely spans more than a few years of DST changes.
const CACHED_SPANS: usize = 32;

/// `[start, end)` in epoch milliseconds during which the offset is `offset` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: i64,
    end: i64,
    offset: i32,
}

/// A time zone with a cache of its offsets.
#[derive(Debug, Clone)]
pub struct Zone {
    tz: TimeZone,
    /// `Some` for zones without transitions (UTC, fixed offsets): no look-ups at all.
    fixed: Option<i32>,
    spans: RefCell<Vec<Span>>,
}

impl Default for Zone {
    fn default() -> Self {
        Self::utc()
    }
}

impl Zone {
    /// UTC (`+0000`).
    pub fn utc() -> Self {
        Self {
            tz: TimeZone::UTC,
            fixed: Some(0),
            spans: RefCell::new(Vec::new()),
        }
    }

    /// The IANA zone `name`; UTC when the bundled database does not know it, as Jira falls
    /// back to the site's zone for an account without a valid one.
    pub fn named(name: &str) -> Self {
        let Ok(tz) = TimeZone::get(name) else {
            return Self::utc();
        };
        let probe = Timestamp::UNIX_EPOCH;
        let fixed = (tz.preceding(probe).next().is_none() && tz.following(probe).next().is_none())
            .then(|| tz.to_offset(probe).seconds());
        Self {
            tz,
            fixed,
            spans: RefCell::new(Vec::new()),
        }
    }

    /// The offset from UTC, in seconds, at `ms` epoch milliseconds.
    pub fn offset_seconds(&self, ms: i64) -> i32 {
        if let Some(fixed) = self.fixed {
            return fixed;
        }
        if let Some(span) = self
            .spans
            .borrow()
            .iter()
            .find(|s| s.start <= ms && ms < s.end)
        {
            return span.offset;
        }
        let span = self.span_at(ms);
        let mut spans = self.spans.borrow_mut();
        if spans.len() >= CACHED_SPANS {
            spans.remove(0);
        }
        spans.push(span);
        span.offset
    }

    fn span_at(&self, ms: i64) -> Span {
        let Ok(ts) = Timestamp::from_millisecond(ms) else {
            return Span {
                start: ms,
                end: ms.saturating_add(1),
                offset: 0,
            };
        };
        let offset = self.tz.to_offset(ts).seconds();
        // `preceding` is strictly before its argument, so ask from one millisecond later to
        // include a transition at exactly `ms`.
        let after = Timestamp::from_millisecond(ms.saturating_add(1)).unwrap_or(ts);
        let start = self
            .tz
            .preceding(after)
            .next()
            .map_or(i64::MIN, |t| t.timestamp().as_millisecond());
        let end = self
            .tz
            .following(ts)
            .next()
            .map_or(i64::MAX, |t| t.timestamp().as_millisecond());
        Span { start, end, offset }
    }

    /// Jira's date-time text for `ms` in this zone: `2026-01-05T10:30:00.000+0100`.
    pub fn datetime(&self, ms: i64) -> String {
        datetime_with_offset(ms, self.offset_seconds(ms))
    }
}

/// Jira's timestamp format for epoch milliseconds shown at `offset` seconds east of UTC.
///
/// Written by hand (days to civil date, after Howard Hinnant's algorithm) because search pages
/// format dozens of timestamps per issue.
pub fn datetime_with_offset(ms: i64, offset: i32) -> String {
    use std::fmt::Write as _;

    let local = ms.saturating_add(i64::from(offset) * 1_000);
    let days = local.div_euclid(86_400_000);
    let rest = local.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1_000 % 60,
        rest % 1_000,
    );
    let sign = if offset < 0 { '-' } else { '+' };
    let minutes = offset.unsigned_abs() / 60;
    let (oh, om) = (minutes / 60, minutes % 60);
    let mut out = String::with_capacity(28);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}{sign}{oh:02}{om:02}"
    );
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const ZONES: &[&str] = &[
        "Europe/London",
        "Europe/Berlin",
        "America/New_York",
        "America/Los_Angeles",
        "Asia/Kolkata",
        "Asia/Tokyo",
        "Australia/Sydney",
        "Australia/Adelaide",
        "America/St_Johns",
        "Etc/UTC",
    ];

    /// Reads the rendered text back as an instant: local fields minus the written offset.
    fn instant_of(text: &str) -> i64 {
        let (local, offset) = text.split_at(text.len() - 5);
        let dt: jiff::civil::DateTime = local.parse().expect("local date-time");
        let local_ms = dt
            .to_zoned(TimeZone::UTC)
            .expect("in range")
            .timestamp()
            .as_millisecond();
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let hours: i64 = offset[1..3].parse().expect("hours");
        let minutes: i64 = offset[3..5].parse().expect("minutes");
        local_ms - sign * (hours * 60 + minutes) * 60_000
    }

    #[test]
    fn offsets_follow_daylight_saving() {
        let london = Zone::named("Europe/London");
        // 2026-03-29 01:00 UTC: BST starts.
        let change = 1_774_746_000_000;
        assert_eq!(london.datetime(change - 1), "2026-03-29T00:59:59.999+0000");
        assert_eq!(london.datetime(change), "2026-03-29T02:00:00.000+0100");
        let new_york = Zone::named("America/New_York");
        assert_eq!(
            new_york.datetime(1_767_605_400_000),
            "2026-01-05T04:30:00.000-0500"
        );
        assert_eq!(
            new_york.datetime(1_783_245_600_000),
            "2026-07-05T06:00:00.000-0400"
        );
        let kolkata = Zone::named("Asia/Kolkata");
        assert_eq!(
            kolkata.datetime(1_767_605_400_000),
            "2026-01-05T15:00:00.000+0530"
        );
        // Cached spans give the same answers the second time, in any order.
        assert_eq!(london.datetime(change), "2026-03-29T02:00:00.000+0100");
        assert_eq!(london.datetime(change - 1), "2026-03-29T00:59:59.999+0000");
    }

    #[test]
    fn unknown_zones_are_utc() {
        let zone = Zone::named("Mars/Olympus_Mons");
        assert_eq!(
            zone.datetime(1_767_605_400_000),
            "2026-01-05T09:30:00.000+0000"
        );
        assert_eq!(
            Zone::utc().datetime(-86_400_001),
            "1969-12-30T23:59:59.999+0000"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn rendered_local_time_minus_offset_is_the_instant(
            ms in 0i64..4_102_444_800_000,
            zone in 0..ZONES.len(),
            others in proptest::collection::vec(0i64..4_102_444_800_000, 0..8),
        ) {
            let z = Zone::named(ZONES[zone]);
            // Warm the cache with other instants so cached spans are exercised too.
            for o in others {
                let _ = z.datetime(o);
            }
            let text = z.datetime(ms);
            prop_assert_eq!(instant_of(&text), ms, "{}", text);
            let ts = Timestamp::from_millisecond(ms).expect("in range");
            let expected = TimeZone::get(ZONES[zone]).expect("known").to_offset(ts).seconds();
            prop_assert_eq!(z.offset_seconds(ms), expected);
        }
    }
}
