//! JQL date values and date functions, resolved in the searching account's time zone.
//!
//! Accepted values, as in Jira Cloud:
//! - `yyyy-MM-dd`, `yyyy/MM/dd`: midnight local time in the account's zone;
//! - `yyyy-MM-dd HH:mm`, `yyyy/MM/dd HH:mm`: that local time in the account's zone;
//! - a bare integer: epoch milliseconds (UTC, zone-independent);
//! - a period such as `-5d`, `4h`, `"-1w 2d"`: now plus the signed sum of its parts, where
//!   `w` is 7 days, `d` 24 hours, `h` an hour and `m` a minute (a leading sign applies to the
//!   whole period, as in Jira);
//! - `now()`, `startOfDay()`, `endOfDay()`, `startOfWeek()`, `endOfWeek()`, `startOfMonth()`,
//!   `endOfMonth()`, `startOfYear()`, `endOfYear()`, the last eight with an optional offset
//!   `(+/-)n(y|M|w|d|h|m)` whose unit defaults to the function's own.
//!
//! Local times that a DST change skips are moved forward by the length of the gap, and
//! repeated local times take the earlier instant (java.time's and jiff's "compatible" rule).
//! Weeks start on Sunday, as in Jira's default (en-US) locale. `endOf…` is the last
//! millisecond of the period, which minute truncation turns into its last minute.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Zoned};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
const WEEK_MS: i64 = 7 * DAY_MS;

/// A textual date value, whose instant depends on the time zone or the current time. (Epoch
/// milliseconds are bare numbers and never reach this type.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateValue {
    /// A wall-clock time in the account's zone.
    Local(DateTime),
    /// An offset from now, in milliseconds.
    Period(i64),
}

/// Reads a quoted or bare (non-number) date value.
pub(crate) fn parse_date_text(text: &str) -> Option<DateValue> {
    parse_local(text)
        .map(DateValue::Local)
        .or_else(|| parse_period(text).map(DateValue::Period))
}

fn parse_local(text: &str) -> Option<DateTime> {
    let text = text.trim();
    let (date_part, time_part) = match text.split_once(char::is_whitespace) {
        Some((d, t)) => (d, Some(t.trim_start())),
        None => (text, None),
    };
    let separator = if date_part.contains('-') { '-' } else { '/' };
    let mut parts = date_part.split(separator);
    let year = digits(parts.next()?, 4, 4)?;
    let month = digits(parts.next()?, 1, 2)?;
    let day = digits(parts.next()?, 1, 2)?;
    if parts.next().is_some() {
        return None;
    }
    let (hour, minute) = match time_part {
        None => (0, 0),
        Some(t) => {
            let (h, m) = t.split_once(':')?;
            (digits(h, 1, 2)?, digits(m, 2, 2)?)
        }
    };
    let year = i16::try_from(year).ok()?;
    let [month, day, hour, minute] = [month, day, hour, minute].map(|v| i8::try_from(v).ok());
    DateTime::new(year, month?, day?, hour?, minute?, 0, 0).ok()
}

/// Parses `min..=max` ASCII digits.
fn digits(s: &str, min: usize, max: usize) -> Option<u32> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses a period like `-1w 2d`, `4h`, `+30m` into signed milliseconds.
pub(crate) fn parse_period(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, mut rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let mut total: i64 = 0;
    let mut parts = 0;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let count_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        if count_len == 0 {
            return None;
        }
        let count: i64 = rest[..count_len].parse().ok()?;
        let unit = rest[count_len..].chars().next()?;
        let unit_ms = match unit.to_ascii_lowercase() {
            'w' => WEEK_MS,
            'd' => DAY_MS,
            'h' => HOUR_MS,
            'm' => MINUTE_MS,
            _ => return None,
        };
        total = total.checked_add(count.checked_mul(unit_ms)?)?;
        rest = &rest[count_len + unit.len_utf8()..];
        parts += 1;
    }
    if parts == 0 {
        return None;
    }
    Some(if negative { -total } else { total })
}

/// A date function of JQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateFunction {
    Now,
    Start(Period),
    End(Period),
}

/// The calendar period a `startOf…`/`endOf…` function works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Period {
    Day,
    Week,
    Month,
    Year,
}

impl DateFunction {
    /// Looks a function name up, ignoring case as Jira does.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        const TABLE: [(&str, DateFunction); 9] = [
            ("now", DateFunction::Now),
            ("startOfDay", DateFunction::Start(Period::Day)),
            ("endOfDay", DateFunction::End(Period::Day)),
            ("startOfWeek", DateFunction::Start(Period::Week)),
            ("endOfWeek", DateFunction::End(Period::Week)),
            ("startOfMonth", DateFunction::Start(Period::Month)),
            ("endOfMonth", DateFunction::End(Period::Month)),
            ("startOfYear", DateFunction::Start(Period::Year)),
            ("endOfYear", DateFunction::End(Period::Year)),
        ];
        TABLE
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, f)| f)
    }

    /// The most arguments the function takes.
    pub(crate) fn max_args(self) -> usize {
        match self {
            Self::Now => 0,
            Self::Start(_) | Self::End(_) => 1,
        }
    }
}

/// A unit of a function offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Year,
    Month,
    Week,
    Day,
    Hour,
    Minute,
}

impl Period {
    fn unit(self) -> Unit {
        match self {
            Self::Day => Unit::Day,
            Self::Week => Unit::Week,
            Self::Month => Unit::Month,
            Self::Year => Unit::Year,
        }
    }
}

/// Parses a function offset such as `-1`, `+2M`, `"-1d"`.
fn parse_offset(text: &str, default: Unit) -> Option<(i64, Unit)> {
    let text = text.trim();
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let count_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    if count_len == 0 {
        return None;
    }
    let count: i64 = rest[..count_len].parse().ok()?;
    let unit = match &rest[count_len..] {
        "" => default,
        "y" => Unit::Year,
        "M" => Unit::Month,
        "w" => Unit::Week,
        "d" => Unit::Day,
        "h" => Unit::Hour,
        "m" => Unit::Minute,
        _ => return None,
    };
    Some((if negative { -count } else { count }, unit))
}

fn span(count: i64, unit: Unit) -> Option<Span> {
    let span = Span::new();
    match unit {
        Unit::Year => span.try_years(count),
        Unit::Month => span.try_months(count),
        Unit::Week => span.try_weeks(count),
        Unit::Day => span.try_days(count),
        Unit::Hour => span.try_hours(count),
        Unit::Minute => span.try_minutes(count),
    }
    .ok()
}

/// The clock reading and zone that date values are resolved against.
#[derive(Debug, Clone)]
pub(crate) struct TimeBasis {
    pub(crate) now_ms: i64,
    pub(crate) zone: TimeZone,
}

/// Why a date function could not be evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FunctionFailure {
    /// The offset argument is malformed.
    BadOffset,
    /// The result is outside the supported range of dates.
    OutOfRange,
}

impl TimeBasis {
    /// Looks the zone up in the bundled database.
    pub(crate) fn new(now_ms: i64, zone: &str) -> Option<Self> {
        Some(Self {
            now_ms,
            zone: TimeZone::get(zone).ok()?,
        })
    }

    /// The instant, in epoch milliseconds, that a date value stands for.
    pub(crate) fn resolve(&self, value: DateValue) -> Option<i64> {
        match value {
            DateValue::Period(ms) => self.now_ms.checked_add(ms),
            DateValue::Local(dt) => Some(
                dt.to_zoned(self.zone.clone())
                    .ok()?
                    .timestamp()
                    .as_millisecond(),
            ),
        }
    }

    fn now(&self) -> Option<Zoned> {
        Some(
            Timestamp::from_millisecond(self.now_ms)
                .ok()?
                .to_zoned(self.zone.clone()),
        )
    }

    /// The first local date whose midnight, in the account's zone, is at or after `ms`, as days
    /// since 1970-01-01. Date-only fields (`duedate`) hold midnight of their day, so an instant
    /// bound on them becomes this day bound.
    pub(crate) fn first_day_from(&self, ms: i64) -> Option<i64> {
        let ts = Timestamp::from_millisecond(ms).ok()?;
        let date = ts.to_zoned(self.zone.clone()).date();
        let midnight = date
            .to_zoned(self.zone.clone())
            .ok()?
            .timestamp()
            .as_millisecond();
        let day = epoch_day(date);
        Some(if midnight >= ms { day } else { day + 1 })
    }

    /// Evaluates a date function with its optional offset argument.
    pub(crate) fn function(
        &self,
        function: DateFunction,
        arg: Option<&str>,
    ) -> Result<i64, FunctionFailure> {
        let (period, is_end) = match function {
            DateFunction::Now => return Ok(self.now_ms),
            DateFunction::Start(p) => (p, false),
            DateFunction::End(p) => (p, true),
        };
        let (count, unit) = match arg {
            None => (0, period.unit()),
            Some(a) => parse_offset(a, period.unit()).ok_or(FunctionFailure::BadOffset)?,
        };
        let offset = span(count, unit).ok_or(FunctionFailure::OutOfRange)?;
        let now = self.now().ok_or(FunctionFailure::OutOfRange)?;
        // An offset in the function's own unit moves to another period (endOfMonth(+1) is the
        // end of next month, not a month after the end of this one); any other unit shifts the
        // boundary of the current period (startOfMonth("+14d") is the 15th).
        let result = if unit == period.unit() {
            let moved = now.checked_add(offset).ok();
            moved.and_then(|z| self.boundary(&z, period, is_end))
        } else {
            self.boundary(&now, period, is_end)
                .and_then(|b| b.checked_add(offset).ok())
        };
        result
            .map(|z| z.timestamp().as_millisecond())
            .ok_or(FunctionFailure::OutOfRange)
    }

    /// The first instant of the period containing `at`, or its last millisecond.
    fn boundary(&self, at: &Zoned, period: Period, is_end: bool) -> Option<Zoned> {
        let date = at.date();
        let start: Date = match period {
            Period::Day => date,
            Period::Week => date
                .checked_sub(Span::new().days(date.weekday().to_sunday_zero_offset()))
                .ok()?,
            Period::Month => date.first_of_month(),
            Period::Year => date.first_of_year(),
        };
        if !is_end {
            return start.to_zoned(self.zone.clone()).ok();
        }
        let next = start.checked_add(span(1, period.unit())?).ok()?;
        let next = next.to_zoned(self.zone.clone()).ok()?;
        next.checked_sub(Span::new().milliseconds(1)).ok()
    }
}

/// Days since 1970-01-01 of a civil date.
fn epoch_day(date: Date) -> i64 {
    days_from_civil(
        i64::from(date.year()),
        i64::from(date.month()),
        i64::from(date.day()),
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` text.
pub fn day_number(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.get(..2)?.parse().ok()?;
    ((1..=12).contains(&month) && (1..=31).contains(&day))
        .then(|| days_from_civil(year, month, day))
}

/// The epoch minute an instant falls in: the unit Jira compares dates in.
pub(crate) fn minute_of(ms: i64) -> i64 {
    ms.div_euclid(MINUTE_MS)
}

/// The first millisecond of an epoch minute, saturating at the ends of `i64`.
pub(crate) fn minute_start(minute: i64) -> i64 {
    minute.saturating_mul(MINUTE_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(zone: &str, y: i16, mo: i8, d: i8, h: i8, mi: i8) -> i64 {
        DateTime::new(y, mo, d, h, mi, 0, 0)
            .unwrap()
            .to_zoned(TimeZone::get(zone).unwrap())
            .unwrap()
            .timestamp()
            .as_millisecond()
    }

    #[test]
    fn local_forms() {
        let expect = DateTime::new(2024, 3, 5, 0, 0, 0, 0).unwrap();
        for text in ["2024-03-05", "2024/03/05", "2024-3-5", " 2024/3/05 "] {
            assert_eq!(
                parse_date_text(text),
                Some(DateValue::Local(expect)),
                "{text}"
            );
        }
        let with_time = DateTime::new(2024, 3, 5, 9, 7, 0, 0).unwrap();
        for text in ["2024-03-05 09:07", "2024/03/05 9:07", "2024-03-05  09:07"] {
            assert_eq!(
                parse_date_text(text),
                Some(DateValue::Local(with_time)),
                "{text}"
            );
        }
        for bad in [
            "2020-13-01",
            "2021-02-29",
            "2024-03/05",
            "24-03-05",
            "2024-03-05 24:00",
            "2024-03-05 10:60",
            "2024-03-05 10",
            "2024-03-05T10:00",
            "",
            "tomorrow",
        ] {
            assert_eq!(parse_date_text(bad), None, "{bad}");
        }
    }

    #[test]
    fn periods() {
        assert_eq!(parse_period("-5d"), Some(-5 * DAY_MS));
        assert_eq!(parse_period("4h"), Some(4 * HOUR_MS));
        assert_eq!(parse_period("-30m"), Some(-30 * MINUTE_MS));
        assert_eq!(parse_period("-1w 2d"), Some(-9 * DAY_MS));
        assert_eq!(parse_period("4w2d"), Some(30 * DAY_MS));
        assert_eq!(parse_period("+1H 1M"), Some(HOUR_MS + MINUTE_MS));
        for bad in [
            "",
            "-",
            "5",
            "d",
            "5y",
            "5d x",
            "--5d",
            "99999999999999999999w",
        ] {
            assert_eq!(parse_period(bad), None, "{bad}");
        }
    }

    #[test]
    fn local_values_follow_the_zone() {
        let value = parse_date_text("2024-01-01 10:00").unwrap();
        for zone in [
            "Pacific/Honolulu",
            "UTC",
            "Pacific/Kiritimati",
            "Europe/Berlin",
        ] {
            let basis = TimeBasis::new(0, zone).unwrap();
            assert_eq!(
                basis.resolve(value),
                Some(ms(zone, 2024, 1, 1, 10, 0)),
                "{zone}"
            );
        }
        let utc = TimeBasis::new(0, "UTC").unwrap().resolve(value).unwrap();
        let honolulu = TimeBasis::new(0, "Pacific/Honolulu")
            .unwrap()
            .resolve(value)
            .unwrap();
        let kiritimati = TimeBasis::new(0, "Pacific/Kiritimati")
            .unwrap()
            .resolve(value)
            .unwrap();
        assert_eq!(honolulu - utc, 10 * HOUR_MS);
        assert_eq!(utc - kiritimati, 14 * HOUR_MS);
        assert!(TimeBasis::new(0, "Mars/Olympus").is_none());
    }

    #[test]
    fn dst_gap_moves_forward_and_fold_takes_the_earlier_instant() {
        let berlin = TimeBasis::new(0, "Europe/Berlin").unwrap();
        let gap = berlin
            .resolve(parse_date_text("2024-03-31 02:30").unwrap())
            .unwrap();
        // 02:30 does not exist; 01:30 UTC is 03:30 CEST.
        assert_eq!(gap, ms("UTC", 2024, 3, 31, 1, 30));
        let fold = berlin
            .resolve(parse_date_text("2024-10-27 02:30").unwrap())
            .unwrap();
        // 02:30 happens twice; the first is CEST (UTC+2).
        assert_eq!(fold, ms("UTC", 2024, 10, 27, 0, 30));
    }

    #[test]
    fn functions() {
        // Wednesday 2024-03-13 15:45 in Berlin (CET, UTC+1).
        let now = ms("Europe/Berlin", 2024, 3, 13, 15, 45);
        let b = TimeBasis::new(now, "Europe/Berlin").unwrap();
        let f =
            |name: &str, arg: Option<&str>| b.function(DateFunction::from_name(name).unwrap(), arg);
        let berlin = |d: i8, h: i8, mi: i8| ms("Europe/Berlin", 2024, 3, d, h, mi);
        assert_eq!(f("now", None), Ok(now));
        assert_eq!(f("STARTOFDAY", None), Ok(berlin(13, 0, 0)));
        assert_eq!(f("startOfDay", Some("-1")), Ok(berlin(12, 0, 0)));
        assert_eq!(f("startOfDay", Some("-1d")), Ok(berlin(12, 0, 0)));
        assert_eq!(f("startOfDay", Some("+2h")), Ok(berlin(13, 2, 0)));
        assert_eq!(f("endOfDay", None), Ok(berlin(14, 0, 0) - 1));
        assert_eq!(f("startOfWeek", None), Ok(berlin(10, 0, 0)));
        assert_eq!(f("endOfWeek", None), Ok(berlin(17, 0, 0) - 1));
        assert_eq!(f("startOfMonth", None), Ok(berlin(1, 0, 0)));
        assert_eq!(f("startOfMonth", Some("+14d")), Ok(berlin(15, 0, 0)));
        // End of next month across the DST change: April has 30 days and is CEST.
        assert_eq!(
            f("endOfMonth", Some("+1")),
            Ok(ms("Europe/Berlin", 2024, 5, 1, 0, 0) - 1)
        );
        assert_eq!(
            f("startOfYear", Some("-1y")),
            Ok(ms("Europe/Berlin", 2023, 1, 1, 0, 0))
        );
        assert_eq!(
            f("endOfYear", None),
            Ok(ms("Europe/Berlin", 2025, 1, 1, 0, 0) - 1)
        );
        assert_eq!(f("startOfDay", Some("1x")), Err(FunctionFailure::BadOffset));
        assert_eq!(f("startOfDay", Some("")), Err(FunctionFailure::BadOffset));
        assert_eq!(
            f("startOfDay", Some("99999999999")),
            Err(FunctionFailure::OutOfRange)
        );
        assert_eq!(DateFunction::from_name("membersOf"), None);
    }

    #[test]
    fn day_boundaries_on_dst_days_are_local_midnights() {
        // The day Berlin springs forward is 23 hours long.
        let now = ms("Europe/Berlin", 2024, 3, 31, 12, 0);
        let b = TimeBasis::new(now, "Europe/Berlin").unwrap();
        let start = b.function(DateFunction::Start(Period::Day), None).unwrap();
        let end = b.function(DateFunction::End(Period::Day), None).unwrap();
        assert_eq!(end + 1 - start, 23 * HOUR_MS);
    }

    #[test]
    fn minutes_floor_towards_negative_infinity() {
        assert_eq!(minute_of(59_999), 0);
        assert_eq!(minute_of(60_000), 1);
        assert_eq!(minute_of(-1), -1);
        assert_eq!(minute_start(-1), -60_000);
        assert_eq!(minute_start(i64::MAX), i64::MAX);
    }
}
