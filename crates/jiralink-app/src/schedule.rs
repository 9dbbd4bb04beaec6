//! When a scheduled export or import runs: a cron expression or "every N minutes", in a time
//! zone the user names; and what both kinds of definition share about their jobs.
//!
//! Times are computed in the named IANA zone (jiff's bundled database, so the host's tz files
//! do not matter) and stored as instants. A cron expression matches wall-clock times of that
//! zone (croner's rules across daylight-saving changes: a time skipped by a jump forward runs
//! once, at the first instant after the gap; a time repeated by a jump back runs once).
//! "Every N minutes" runs at the wall-clock times of the zone that are a multiple of N
//! minutes after local midnight, so `every 60 minutes` in Asia/Kolkata runs at hh:00 there
//! (hh:30 UTC) and restarts its count each midnight.

use jiralink_store::{JobRecord, NewJob};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{App, AppResult};

/// How often a saved export or import runs by itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Schedule {
    /// A five-field cron expression (minute hour day-of-month month day-of-week), e.g.
    /// `30 2 * * *` or `0 */4 * * MON-FRI`; `@daily`, `@hourly` and the like also work.
    Cron {
        #[serde(rename = "cron")]
        expr: String,
        #[serde(rename = "timeZone")]
        time_zone: String,
    },
    /// Every `minutes` minutes (1–1440), counted from midnight in the time zone.
    Every {
        #[serde(rename = "everyMinutes")]
        minutes: u32,
        #[serde(rename = "timeZone")]
        time_zone: String,
    },
}

/// The longest "every N minutes": one day.
pub const MAX_EVERY_MINUTES: u32 = 1440;

/// A schedule checked once, ready to compute run times.
#[derive(Debug, Clone)]
pub(crate) struct CheckedSchedule {
    zone: jiff::tz::TimeZone,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Cron(Box<croner::Cron>),
    Every(u32),
}

impl Schedule {
    pub fn time_zone(&self) -> &str {
        match self {
            Self::Cron { time_zone, .. } | Self::Every { time_zone, .. } => time_zone,
        }
    }

    /// "cron 30 2 * * * (Europe/Paris)" or "every 15 minutes (UTC)".
    pub fn describe(&self) -> String {
        match self {
            Self::Cron { expr, time_zone } => format!("cron {expr} ({time_zone})"),
            Self::Every { minutes, time_zone } => {
                format!("every {minutes} minute(s) ({time_zone})")
            }
        }
    }

    /// Checks the expression and the time zone; the message says what is wrong and how to
    /// write it (it never repeats the value given).
    pub(crate) fn check(&self) -> Result<CheckedSchedule, String> {
        let zone_name = self.time_zone().trim();
        if zone_name.is_empty() {
            return Err(
                "the schedule needs a time zone, an IANA name such as UTC or \
                        Europe/Paris"
                    .to_owned(),
            );
        }
        let zone = jiff::tz::db().get(zone_name).map_err(|_| {
            "the schedule's time zone is not a known IANA time zone name; write one such as \
             UTC, Europe/Paris or America/New_York"
                .to_owned()
        })?;
        let kind = match self {
            Self::Cron { expr, .. } => {
                let cron = croner::parser::CronParser::builder()
                    .seconds(croner::parser::Seconds::Disallowed)
                    .year(croner::parser::Year::Disallowed)
                    .build()
                    .parse(expr.trim())
                    .map_err(|e| {
                        format!(
                            "the cron expression is not valid ({e}); write five fields: minute \
                             hour day-of-month month day-of-week, e.g. \"30 2 * * *\""
                        )
                    })?;
                Kind::Cron(Box::new(cron))
            }
            Self::Every { minutes, .. } => {
                if !(1..=MAX_EVERY_MINUTES).contains(minutes) {
                    return Err(format!(
                        "every N minutes takes N between 1 and {MAX_EVERY_MINUTES} (one day); \
                         use a cron expression for longer periods"
                    ));
                }
                Kind::Every(*minutes)
            }
        };
        Ok(CheckedSchedule { zone, kind })
    }
}

impl CheckedSchedule {
    /// The first run time strictly after `after`.
    pub(crate) fn next_after(&self, after: OffsetDateTime) -> Option<OffsetDateTime> {
        let ts = to_jiff(after)?;
        let now = ts.to_zoned(self.zone.clone());
        let next = match &self.kind {
            Kind::Cron(cron) => cron.find_next_occurrence(&now, false).ok()?.timestamp(),
            Kind::Every(minutes) => self.next_every(&now, *minutes)?,
        };
        from_jiff(next)
    }

    /// The next local time that is a multiple of `minutes` after a local midnight, strictly
    /// after `now`.
    fn next_every(&self, now: &jiff::Zoned, minutes: u32) -> Option<jiff::Timestamp> {
        let step = i64::from(minutes);
        let mut day = now.date();
        // Today's remaining slots, then tomorrow's first (midnight); two days always suffice,
        // a third guards a zone that skips a whole day (Samoa, 2011).
        for _ in 0..3 {
            let mut slot: i64 = 0;
            while slot < 1440 {
                let civil = day
                    .to_datetime(jiff::civil::Time::midnight())
                    .checked_add(jiff::SignedDuration::from_mins(slot))
                    .ok()?;
                // A wall-clock time in a gap maps to the instant after it; one repeated by a
                // jump back maps to its first occurrence.
                let instant = self.zone.to_ambiguous_timestamp(civil).compatible().ok()?;
                if instant > now.timestamp() {
                    return Some(instant);
                }
                slot += step;
            }
            day = day.tomorrow().ok()?;
        }
        None
    }
}

/// What a definition's job did and when it is due again (`None`: the job is deleted).
pub(crate) struct DefinitionJobRan {
    pub(crate) detail: String,
    pub(crate) next: Option<OffsetDateTime>,
}

/// A saved definition that runs by a schedule.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Definition<'a> {
    Export(&'a jiralink_store::ExportRecord),
    Import(&'a jiralink_store::ImportRecord),
}

/// The schedule a saved definition runs by: `None` without one or when disabled; `Err` with
/// the reason when the stored schedule cannot be read or is no longer valid.
pub(crate) fn read_stored(
    stored: Option<&serde_json::Value>,
    enabled: bool,
) -> Result<Option<CheckedSchedule>, String> {
    let Some(stored) = stored.filter(|_| enabled) else {
        return Ok(None);
    };
    let schedule: Schedule = serde_json::from_value(stored.clone()).map_err(|e| e.to_string())?;
    schedule.check().map(Some)
}

/// The schedule as users see it (`None` when the stored one cannot be read).
pub(crate) fn view_of(stored: Option<&serde_json::Value>) -> Option<Schedule> {
    stored.and_then(|s| serde_json::from_value(s.clone()).ok())
}

/// The next time of a definition's job, when it will run the definition: by its schedule, or
/// (`run_now`: definitions with "Run now") because a run was asked for. A job left from a
/// removed schedule only deletes itself when it comes due, so it does not count.
pub(crate) fn next_run_at(
    job: Option<&JobRecord>,
    scheduled: bool,
    run_now: bool,
) -> Option<OffsetDateTime> {
    job.filter(|job| scheduled || (run_now && asked_for(job)))
        .map(|job| job.next_run_at)
}

/// Whether the job of a definition without a schedule is there for a run asked for ("Run
/// now"): such a job is deleted after its one run, so it has never finished one.
fn asked_for(job: &JobRecord) -> bool {
    job.last_finished_at.is_none()
}

/// The setting that says a definition's job (`kind`: `exports`, `imports`, `flows`) is due
/// early only to look at a run another process held (see [`App::next_when_busy`]).
pub(crate) fn lease_wait_key(kind: &str, id: uuid::Uuid) -> String {
    format!("{kind}.lease_wait.{id}")
}

impl App {
    /// Adds a definition's job unless it exists, and makes it due at `job.next_run_at`.
    pub(crate) async fn ensure_definition_job(&self, job: NewJob) -> AppResult<()> {
        self.store().ensure_job(&job, self.now()).await?;
        self.store()
            .reschedule_job(&job.key, job.next_run_at)
            .await?;
        Ok(())
    }

    /// The next time of a definition's job that found a run of it going on in another
    /// process, held until `leased_until`: the job comes back when that lease runs out if
    /// that is before `scheduled`, so a run left by a process that died is resumed then by
    /// whichever server claims the job, not a schedule later. A live run renews its lease;
    /// the job then finds it going on again and waits once more. The setting `wait_key`
    /// marks such an early return (see [`App::came_back_early`]).
    pub(crate) async fn next_when_busy(
        &self,
        wait_key: &str,
        leased_until: Option<OffsetDateTime>,
        scheduled: Option<OffsetDateTime>,
    ) -> AppResult<Option<OffsetDateTime>> {
        match leased_until {
            Some(until) if scheduled.is_none_or(|s| until < s) => {
                self.set_setting(wait_key, &until.unix_timestamp().to_string())
                    .await?;
                Ok(Some(until))
            }
            _ => Ok(scheduled),
        }
    }

    /// Whether `job`, claimed now, came back early (see [`App::next_when_busy`]) rather than
    /// at a scheduled time or for "Run now": it is due at the very time the mark names (a
    /// schedule saved or a run asked for meanwhile made it due at another). The mark is
    /// removed by every claim. A job that came back early and finds no run left runs
    /// nothing: the scheduled time it was waiting from is not due again.
    pub(crate) async fn came_back_early(&self, wait_key: &str, job: &JobRecord) -> AppResult<bool> {
        let Some(mark) = self.setting(wait_key).await? else {
            return Ok(false);
        };
        self.delete_setting(wait_key).await?;
        Ok(mark.parse::<i64>().ok() == Some(job.next_run_at.unix_timestamp()))
    }

    /// When a run of an export (`export`) or an import (`import`) is going on: the end of its
    /// lease (`Some(None)`: running with no lease); `None` when it is not running.
    pub(crate) async fn running_until(
        &self,
        export: Option<uuid::Uuid>,
        import: Option<uuid::Uuid>,
    ) -> AppResult<Option<Option<OffsetDateTime>>> {
        let filter = jiralink_store::RunFilter {
            export_id: export,
            import_id: import,
            kind: import.map(|_| jiralink_store::RunKind::Import),
            connection_id: None,
            // The running one, not the newest: a skipped run can be newer.
            state: Some(jiralink_store::RunState::Running),
            limit: 1,
        };
        Ok(self
            .store()
            .list_export_runs(&filter)
            .await?
            .into_iter()
            .next()
            .map(|r| r.lease_until))
    }

    /// The jobs of one kind, by key.
    pub(crate) async fn jobs_of_kind(
        &self,
        kind: &str,
    ) -> AppResult<std::collections::HashMap<String, JobRecord>> {
        Ok(self
            .store()
            .list_jobs()
            .await?
            .into_iter()
            .filter(|j| j.kind == kind)
            .map(|j| (j.key.clone(), j))
            .collect())
    }

    /// Why runs on the connection are skipped now: `Some` while it is offline.
    pub(crate) async fn offline_reason(
        &self,
        connection: jiralink_domain::ConnectionId,
    ) -> AppResult<Option<String>> {
        let connection = self.store().get_connection(connection).await?;
        Ok(match &connection.state {
            jiralink_domain::ConnectionState::Offline { reason } => Some(format!(
                "the connection {} is offline: {reason}",
                connection.settings.name.as_str()
            )),
            _ => None,
        })
    }
}

fn to_jiff(t: OffsetDateTime) -> Option<jiff::Timestamp> {
    let nanos = t.unix_timestamp_nanos();
    jiff::Timestamp::from_nanosecond(nanos).ok()
}

fn from_jiff(t: jiff::Timestamp) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(t.as_nanosecond()).ok()
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use time::macros::datetime;

    use super::*;

    fn cron(expr: &str, tz: &str) -> CheckedSchedule {
        Schedule::Cron {
            expr: expr.to_owned(),
            time_zone: tz.to_owned(),
        }
        .check()
        .unwrap()
    }

    fn every(minutes: u32, tz: &str) -> CheckedSchedule {
        Schedule::Every {
            minutes,
            time_zone: tz.to_owned(),
        }
        .check()
        .unwrap()
    }

    fn runs(s: &CheckedSchedule, from: OffsetDateTime, n: usize) -> Vec<OffsetDateTime> {
        let mut out = Vec::new();
        let mut at = from;
        for _ in 0..n {
            at = s.next_after(at).unwrap();
            out.push(at);
        }
        out
    }

    #[test]
    fn a_daily_cron_follows_the_zone_across_both_dst_changes() {
        // 02:30 every day in New York: the spring-forward day has no 02:30 (it runs once, at
        // 03:00 EDT = 07:00 UTC); the fall-back day runs once.
        let s = cron("30 2 * * *", "America/New_York");
        assert_eq!(
            runs(&s, datetime!(2026-03-07 12:00 UTC), 3),
            [
                datetime!(2026-03-08 07:00 UTC),
                datetime!(2026-03-09 06:30 UTC),
                datetime!(2026-03-10 06:30 UTC),
            ]
        );
        let s = cron("30 1 * * *", "America/New_York");
        assert_eq!(
            runs(&s, datetime!(2026-10-31 12:00 UTC), 3),
            [
                datetime!(2026-11-01 05:30 UTC),
                datetime!(2026-11-02 06:30 UTC),
                datetime!(2026-11-03 06:30 UTC),
            ],
            "01:30 happens twice on 1 November; the schedule runs once"
        );
        // 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer.
        let s = cron("0 9 * * *", "Europe/Paris");
        assert_eq!(
            runs(&s, datetime!(2026-03-28 10:00 UTC), 2),
            [
                datetime!(2026-03-29 07:00 UTC),
                datetime!(2026-03-30 07:00 UTC)
            ]
        );
        assert_eq!(
            s.next_after(datetime!(2026-03-27 10:00 UTC)),
            Some(datetime!(2026-03-28 08:00 UTC))
        );
    }

    #[test]
    fn every_n_minutes_counts_from_local_midnight() {
        let s = every(60, "Asia/Kolkata");
        assert_eq!(
            s.next_after(datetime!(2026-01-01 10:00 UTC)),
            Some(datetime!(2026-01-01 10:30 UTC)),
            "hh:00 in Kolkata is hh:30 UTC"
        );
        let s = every(45, "UTC");
        assert_eq!(
            runs(&s, datetime!(2026-01-01 22:50 UTC), 3),
            [
                datetime!(2026-01-01 23:15 UTC),
                datetime!(2026-01-02 00:00 UTC),
                datetime!(2026-01-02 00:45 UTC)
            ],
            "the count restarts at midnight"
        );
        // Across the spring-forward gap in New York (02:00 → 03:00 local on 8 March).
        let s = every(30, "America/New_York");
        assert_eq!(
            runs(&s, datetime!(2026-03-08 06:10 UTC), 3),
            [
                datetime!(2026-03-08 06:30 UTC),
                datetime!(2026-03-08 07:00 UTC),
                datetime!(2026-03-08 07:30 UTC)
            ],
            "01:30 EST, then 03:00 EDT, then 03:30 EDT"
        );
    }

    #[test]
    fn bad_schedules_say_what_to_write() {
        let bad = [
            Schedule::Cron {
                expr: "61 * * * *".to_owned(),
                time_zone: "UTC".to_owned(),
            },
            Schedule::Cron {
                expr: "0 2 * * *".to_owned(),
                time_zone: "Mars/Olympus".to_owned(),
            },
            Schedule::Every {
                minutes: 0,
                time_zone: "UTC".to_owned(),
            },
            Schedule::Every {
                minutes: 5,
                time_zone: " ".to_owned(),
            },
        ];
        for s in bad {
            let e = s.check().unwrap_err();
            assert!(!e.contains("Mars"), "{e}");
            assert!(
                e.contains("e.g.") || e.contains("such as") || e.contains("between"),
                "{e}"
            );
        }
    }

    #[test]
    fn schedules_read_and_write_their_json_shape() {
        let s: Schedule =
            serde_json::from_str(r#"{"cron":"0 3 * * *","timeZone":"Europe/Berlin"}"#).unwrap();
        assert!(matches!(s, Schedule::Cron { .. }));
        let e: Schedule = serde_json::from_str(r#"{"everyMinutes":15,"timeZone":"UTC"}"#).unwrap();
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"everyMinutes": 15, "timeZone": "UTC"})
        );
    }
}
