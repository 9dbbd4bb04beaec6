//! The little the engine reads of each issue: `id`, `key` and `fields.updated`, borrowed from
//! the JSON text Jira sent. Everything else in the record is skipped without being built.

use serde_json::value::RawValue;

use crate::error::SyncError;

/// An issue's identity and update time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IssueHead {
    /// The numeric id.
    pub(crate) id: u64,
    /// The key, when sent.
    pub(crate) key: Option<String>,
    /// `fields.updated` in epoch milliseconds, when sent.
    pub(crate) updated_ms: Option<i64>,
}

/// Reads an issue's id, key and update time (with the page scanner: one pass, nothing built).
pub(crate) fn head(raw: &RawValue) -> Result<IssueHead, SyncError> {
    let (span, key) = crate::scan::scan_issue(raw.get())?;
    Ok(IssueHead {
        id: span.id,
        key,
        updated_ms: span.updated_ms,
    })
}

/// `raw` with `members` added at its end (the page-level `names` and `schema` of a search,
/// which an issue read on its own carries inside). The text is spliced, not parsed.
pub(crate) fn with_members(
    raw: Box<RawValue>,
    members: &[(&str, &RawValue)],
) -> Result<Box<RawValue>, SyncError> {
    if members.is_empty() {
        return Ok(raw);
    }
    let text = raw.get().trim_end();
    let body = text
        .strip_suffix('}')
        .ok_or_else(|| SyncError::Decode("an issue Jira sent (not an object)".into()))?;
    let mut out = String::with_capacity(
        text.len()
            + members
                .iter()
                .map(|(k, v)| k.len() + v.get().len() + 4)
                .sum::<usize>(),
    );
    out.push_str(body);
    let mut empty = body.trim_end().ends_with('{');
    for (key, value) in members {
        if !empty {
            out.push(',');
        }
        empty = false;
        out.push('"');
        out.push_str(key);
        out.push_str("\":");
        out.push_str(value.get());
    }
    out.push('}');
    RawValue::from_string(out).map_err(|e| SyncError::Decode(format!("an issue ({e})")))
}

/// `at` in epoch milliseconds (saturating far beyond any date Jira holds).
pub(crate) fn unix_ms(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Reads a Jira timestamp (`2026-01-05T09:30:00.000+0000`; also `Z`, `+01:00`, no fraction)
/// as epoch milliseconds.
pub(crate) fn parse_jira_time(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let s = b.get(from..from + len)?;
        s.iter().try_fold(0i64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 || b[16] != b':' {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let digits = &b[start..i];
        if digits.is_empty() {
            return None;
        }
        for k in 0..3 {
            millis = millis * 10 + digits.get(k).map_or(0, |d| i64::from(d - b'0'));
        }
    }
    let offset_secs = match b.get(i..) {
        Some(b"Z" | b"z") => 0,
        Some(rest) if rest.len() == 5 || rest.len() == 6 => {
            let sign = match rest[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = if rest.len() == 5 {
                (num(i + 1, 2)?, num(i + 3, 2)?)
            } else if rest[3] == b':' {
                (num(i + 1, 2)?, num(i + 4, 2)?)
            } else {
                return None;
            };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(secs * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;
    use time::{OffsetDateTime, format_description::well_known::Rfc3339};

    use super::*;

    #[test]
    fn reads_jira_timestamps() {
        assert_eq!(
            parse_jira_time("2026-01-05T09:30:00.000+0000"),
            Some(1_767_605_400_000)
        );
        assert_eq!(
            parse_jira_time("2026-01-05T10:30:00.123+0100"),
            Some(1_767_605_400_123)
        );
        assert_eq!(
            parse_jira_time("2026-01-05T04:00:00.5-05:30"),
            Some(1_767_605_400_500)
        );
        assert_eq!(parse_jira_time("1970-01-01T00:00:00Z"), Some(0));
        for bad in [
            "",
            "2026-01-05",
            "2026-13-05T00:00:00Z",
            "2026-01-05T00:00:00+01",
            "x026-01-05T00:00:00Z",
        ] {
            assert_eq!(parse_jira_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_only_the_head_of_an_issue() {
        let raw = RawValue::from_string(
            r#"{"expand":"x","id":"10001","key":"ED-1","fields":{"summary":"a \"q\"","updated":"2026-01-05T09:30:00.000+0000","big":[1,2,{"u":1}]}}"#.into(),
        )
        .unwrap();
        assert_eq!(
            head(&raw).unwrap(),
            IssueHead {
                id: 10001,
                key: Some("ED-1".into()),
                updated_ms: Some(1_767_605_400_000)
            }
        );
        let bare = RawValue::from_string(r#"{"id":"7"}"#.into()).unwrap();
        assert_eq!(head(&bare).unwrap().updated_ms, None);
        let bad = RawValue::from_string(r#"{"id":"x7"}"#.into()).unwrap();
        assert!(head(&bad).is_err());
    }

    #[test]
    fn page_level_members_are_spliced_into_each_issue() {
        let names = RawValue::from_string(r#"{"summary":"Summary"}"#.into()).unwrap();
        let issue = RawValue::from_string(r#"{"id":"1","fields":{}} "#.into()).unwrap();
        let joined = with_members(issue, &[("names", &names)]).unwrap();
        assert_eq!(
            joined.get(),
            r#"{"id":"1","fields":{},"names":{"summary":"Summary"}}"#
        );
        let empty = RawValue::from_string("{ }".into()).unwrap();
        assert_eq!(
            with_members(empty, &[("names", &names)]).unwrap().get(),
            r#"{ "names":{"summary":"Summary"}}"#
        );
    }

    proptest! {
        #[test]
        fn agrees_with_the_time_crate(secs in 0i64..4_000_000_000, ms in 0i64..1000, off in -14i32*60..14*60) {
            let at = OffsetDateTime::from_unix_timestamp(secs).unwrap()
                + time::Duration::milliseconds(ms);
            let offset = time::UtcOffset::from_whole_seconds(off * 60).unwrap();
            let local = at.to_offset(offset);
            let text = local.format(&Rfc3339).unwrap();
            prop_assert_eq!(parse_jira_time(&text), Some(secs * 1000 + ms), "{}", text);
            let jira = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{}{:02}{:02}",
                local.year(), u8::from(local.month()), local.day(), local.hour(), local.minute(),
                local.second(), local.millisecond(), if off < 0 { '-' } else { '+' },
                off.abs() / 60, off.abs() % 60
            );
            prop_assert_eq!(parse_jira_time(&jira), Some(secs * 1000 + ms), "{}", jira);
        }
    }
}
