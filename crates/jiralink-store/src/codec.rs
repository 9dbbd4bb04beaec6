//! How values are written to and read from the database, the same on every backend.
//!
//! - Times are UTC text of a fixed width (`2026-01-31T09:30:00.000000Z`), so text order is time
//!   order on SQLite and PostgreSQL alike (PostgreSQL columns holding them use the `"C"`
//!   collation) and a row copied between backends keeps its bytes.
//! - Ids are UUIDs in their hyphenated text form.
//! - Unit-like enums (audit actions, sources, kinds, job outcomes) are their serde names.
//! - Structured values (connection settings and state, audit changes, debug headers, job
//!   payloads) are JSON text.
//!
//! Every decoding failure is [`StoreError::Corrupt`]: the database holds something jiralink did
//! not write.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::{StoreError, StoreResult};

const TIME_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
);

/// A time as stored.
#[must_use]
pub(crate) fn fmt_time(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(TIME_FORMAT)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// A stored time.
pub(crate) fn parse_time(s: &str) -> StoreResult<OffsetDateTime> {
    time::PrimitiveDateTime::parse(s, TIME_FORMAT)
        .map(time::PrimitiveDateTime::assume_utc)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {s:?}: {e}")))
}

pub(crate) fn parse_opt_time(s: Option<&str>) -> StoreResult<Option<OffsetDateTime>> {
    s.map(parse_time).transpose()
}

pub(crate) fn parse_uuid(s: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(s).map_err(|e| StoreError::Corrupt(format!("id {s:?}: {e}")))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// A unit-like enum as its serde name.
pub(crate) fn enum_str<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        Ok(other) => Err(StoreError::Corrupt(format!("unexpected enum form {other}"))),
        Err(e) => Err(StoreError::Corrupt(e.to_string())),
    }
}

pub(crate) fn str_enum<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> StoreResult<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| StoreError::Corrupt(format!("{what} {s:?}: {e}")))
}

/// A count or version as stored (`BIGINT` / `INTEGER`), which never goes negative.
pub(crate) fn to_u64(what: &str, n: i64) -> StoreResult<u64> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{what} {n}")))
}

/// A count or version to store; saturates far beyond any real value.
#[must_use]
pub(crate) fn from_u64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::macros::datetime;

    use super::*;

    #[test]
    fn times_have_a_fixed_width_in_utc() {
        let t = datetime!(2026-01-31 10:30:00.5 +01:00);
        assert_eq!(fmt_time(t), "2026-01-31T09:30:00.500000Z");
        assert_eq!(parse_time(&fmt_time(t)).unwrap(), t);
        assert!(matches!(
            parse_time("yesterday"),
            Err(StoreError::Corrupt(_))
        ));
    }

    proptest! {
        // Text order is time order, which every range query and ORDER BY relies on.
        #[test]
        fn text_order_is_time_order(a in 0i64..4_102_444_800_000_000, b in 0i64..4_102_444_800_000_000) {
            let ta = OffsetDateTime::from_unix_timestamp_nanos(i128::from(a) * 1000).unwrap();
            let tb = OffsetDateTime::from_unix_timestamp_nanos(i128::from(b) * 1000).unwrap();
            prop_assert_eq!(fmt_time(ta).cmp(&fmt_time(tb)), ta.cmp(&tb));
            prop_assert_eq!(parse_time(&fmt_time(ta)).unwrap(), ta);
        }
    }
}
