//! SLA information: `GET /request/{issueIdOrKey}/sla` and
//! `GET /request/{issueIdOrKey}/sla/{slaMetricId}`, computed from the issue and the simulator
//! clock whenever they are read, so nothing is stored and generated requests have SLAs too.
//!
//! Every service desk has two metrics, timed around the clock (24/7 calendar, never paused):
//!
//! | Id | Metric | Starts | Stops | Goal |
//! |---|---|---|---|---|
//! | 1 | Time to first response | request created | first public comment by an agent (not the reporter, not a portal customer), or the status category becoming done | 4 h |
//! | 2 | Time to resolution | request created; again each time it leaves a done status | status category becoming done | by priority: Highest/High 8 h, Medium 24 h, otherwise 48 h |
//!
//! A cycle is breached when its elapsed time exceeds the goal; `breachTime` is start + goal.
//! Durations are `DurationDTO`s whose `friendly` text is whole hours then whole minutes, both
//! counted from zero (`4h 240m`), as Jira writes them.

use axum::extract::{Path, State};
use axum::http::Method;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::data::{self, Issue};
use crate::errors::ApiError;
use crate::jsm::request::{DeskView, MAX_LIMIT, Render, find_request, renderer};
use crate::jsm::{PREFIX, Params, not_found, page};
use crate::state::SimState;

/// Id of "Time to first response".
pub const FIRST_RESPONSE: u64 = 1;
/// Id of "Time to resolution".
pub const RESOLUTION: u64 = 2;

const HOUR_MS: i64 = 3_600_000;

/// The metrics of every service desk: id and name.
pub const METRICS: &[(u64, &str)] = &[
    (FIRST_RESPONSE, "Time to first response"),
    (RESOLUTION, "Time to resolution"),
];

/// One timing cycle of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cycle {
    /// Start (epoch ms).
    pub start: i64,
    /// Stop (epoch ms), `None` while ongoing.
    pub stop: Option<i64>,
    /// Goal (ms).
    pub goal: i64,
}

impl Cycle {
    /// Time counted so far (up to `now` while ongoing).
    pub fn elapsed(&self, now: i64) -> i64 {
        self.stop.unwrap_or(now).saturating_sub(self.start).max(0)
    }

    /// Whether the goal was exceeded.
    pub fn breached(&self, now: i64) -> bool {
        self.elapsed(now) > self.goal
    }
}

/// Goal of "Time to resolution" for a priority id.
pub fn resolution_goal(priority: Option<&str>) -> i64 {
    match priority {
        Some("1" | "2") => 8 * HOUR_MS,
        Some("3") => 24 * HOUR_MS,
        _ => 48 * HOUR_MS,
    }
}

/// The cycles of metric `metric` for an issue whose statuses were `history` (status id and
/// when it was reached, oldest first) and whose first agent response was at `first_response`.
/// `is_done` tells whether a status is in the done category.
pub fn cycles(
    metric: u64,
    issue: &Issue,
    history: &[(String, i64)],
    first_response: Option<i64>,
    is_done: impl Fn(&str) -> bool,
) -> Vec<Cycle> {
    let first_done = history
        .iter()
        .find(|(s, _)| is_done(s))
        .map(|(_, t)| (*t).max(issue.created));
    if metric == FIRST_RESPONSE {
        let stop = [first_response, first_done].into_iter().flatten().min();
        return vec![Cycle {
            start: issue.created,
            stop,
            goal: 4 * HOUR_MS,
        }];
    }
    let goal = resolution_goal(issue.priority.as_deref());
    let mut out = Vec::new();
    let mut open: Option<i64> = None;
    let mut was_done = true;
    for (n, (status, at)) in history.iter().enumerate() {
        let at = if n == 0 { issue.created } else { *at };
        let done = is_done(status);
        if was_done && !done {
            open = Some(at);
        }
        if !was_done
            && done
            && let Some(start) = open.take()
        {
            out.push(Cycle {
                start,
                stop: Some(at),
                goal,
            });
        }
        was_done = done;
    }
    if let Some(start) = open {
        out.push(Cycle {
            start,
            stop: None,
            goal,
        });
    }
    out
}

/// `DurationDTO`.
pub fn duration(ms: i64) -> Value {
    json!({ "millis": ms, "friendly": format!("{}h {}m", ms / HOUR_MS, ms / 60_000) })
}

/// Routes of this module.
pub fn router() -> Router<SimState> {
    Router::new()
        .route(
            &format!("{PREFIX}/request/{{issueIdOrKey}}/sla"),
            get(list_slas),
        )
        .route(
            &format!("{PREFIX}/request/{{issueIdOrKey}}/sla/{{slaMetricId}}"),
            get(get_sla),
        )
}

impl Render<'_> {
    /// When an agent first answered the customer in public.
    fn first_response(&self, issue: &Issue) -> Option<i64> {
        issue
            .comments
            .iter()
            .filter(|c| c.jsd_public)
            .filter(|c| issue.reporter.as_deref() != Some(c.author.as_str()))
            .filter(|c| !self.desk.customers.contains_key(&c.author))
            .map(|c| c.created)
            .min()
    }

    /// `SlaInformationDTO` of one metric.
    pub(crate) fn sla(&self, issue: &Issue, metric: u64, name: &str) -> Value {
        let now = data::now_ms(self.state);
        let catalog = self.data.catalog();
        let history = self.status_history(issue);
        let all = cycles(metric, issue, &history, self.first_response(issue), |s| {
            catalog.category_of(s) == "done"
        });
        let common = |c: &Cycle| {
            json!({
                "startTime": self.date(c.start),
                "breachTime": self.date(c.start.saturating_add(c.goal)),
                "breached": c.breached(now),
                "goalDuration": duration(c.goal),
                "elapsedTime": duration(c.elapsed(now)),
                "remainingTime": duration(c.goal - c.elapsed(now)),
            })
        };
        let completed: Vec<Value> = all
            .iter()
            .filter_map(|c| {
                let stop = c.stop?;
                let mut v = common(c);
                v["stopTime"] = self.date(stop);
                Some(v)
            })
            .collect();
        let mut v = json!({
            "id": metric.to_string(),
            "name": name,
            "completedCycles": completed,
            "_links": { "self": format!("{}/request/{}/sla/{metric}", self.api, issue.id) },
        });
        if let Some(c) = all.iter().find(|c| c.stop.is_none()) {
            let mut ongoing = common(c);
            ongoing["paused"] = Value::Bool(false);
            ongoing["withinCalendarHours"] = Value::Bool(false);
            v["ongoingCycle"] = ongoing;
        }
        v
    }

    /// Every metric of a request.
    pub(crate) fn slas(&self, issue: &Issue) -> Vec<Value> {
        METRICS
            .iter()
            .map(|(id, name)| self.sla(issue, *id, name))
            .collect()
    }
}

async fn list_slas(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/request/{issueIdOrKey}/sla",
    )?;
    let paging = params.paging(MAX_LIMIT)?;
    let desk = DeskView::take(&state, &caller);
    let site = data::site(&state, &caller.site);
    let data = site.read();
    let issue = find_request(&desk, &data, &id)?;
    let r = renderer(&state, &caller, &desk, &data);
    Ok(Json(page(
        r.slas(&issue),
        paging,
        &r.api,
        &format!("/request/{}/sla", issue.id),
        &params,
        &[],
    )))
}

async fn get_sla(
    State(state): State<SimState>,
    caller: Caller,
    Path((id, metric)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/request/{issueIdOrKey}/sla/{slaMetricId}",
    )?;
    let desk = DeskView::take(&state, &caller);
    let site = data::site(&state, &caller.site);
    let data = site.read();
    let issue = find_request(&desk, &data, &id)?;
    let (metric_id, name) = METRICS
        .iter()
        .find(|(m, _)| metric.trim().parse::<u64>().ok() == Some(*m))
        .ok_or_else(|| {
            not_found(&format!(
                "The SLA metric '{metric}' does not exist on this request."
            ))
        })?;
    let r = renderer(&state, &caller, &desk, &data);
    Ok(Json(r.sla(&issue, *metric_id, name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(created: i64, priority: Option<&str>) -> Issue {
        Issue {
            created,
            priority: priority.map(str::to_owned),
            ..crate::jsm::request::tests::test_issue()
        }
    }

    fn done(s: &str) -> bool {
        s == "5" || s == "6"
    }

    fn h(s: &str, hours: i64) -> (String, i64) {
        (s.to_owned(), hours * HOUR_MS)
    }

    #[test]
    fn first_response_stops_at_the_answer_or_resolution() {
        let i = issue(0, None);
        let open = [h("10003", 0)];
        assert_eq!(
            cycles(FIRST_RESPONSE, &i, &open, None, done),
            vec![Cycle {
                start: 0,
                stop: None,
                goal: 4 * HOUR_MS
            }]
        );
        let answered = cycles(FIRST_RESPONSE, &i, &open, Some(HOUR_MS), done);
        assert_eq!(answered[0].stop, Some(HOUR_MS));
        let resolved = [h("10003", 0), h("5", 2)];
        let c = cycles(FIRST_RESPONSE, &i, &resolved, Some(3 * HOUR_MS), done);
        assert_eq!(c[0].stop, Some(2 * HOUR_MS));
    }

    #[test]
    fn resolution_cycles_follow_done_and_reopen() {
        let i = issue(0, Some("2"));
        let history = [h("10003", 0), h("5", 10), h("10003", 20)];
        let c = cycles(RESOLUTION, &i, &history, None, done);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].stop, Some(10 * HOUR_MS));
        assert!(c[0].breached(0), "10 h against an 8 h goal");
        assert_eq!(c[1].start, 20 * HOUR_MS);
        assert_eq!(c[1].stop, None);
        assert_eq!(c[1].elapsed(23 * HOUR_MS), 3 * HOUR_MS);
        assert_eq!(resolution_goal(Some("3")), 24 * HOUR_MS);
        assert_eq!(resolution_goal(None), 48 * HOUR_MS);
    }

    #[test]
    fn durations_read_like_jira() {
        assert_eq!(duration(14_400_000)["friendly"], "4h 240m");
        assert_eq!(duration(420_000)["friendly"], "0h 7m");
        assert_eq!(duration(-4_980_000)["friendly"], "-1h -83m");
    }
}
