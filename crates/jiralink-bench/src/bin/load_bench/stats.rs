//! What the users saw, per route: how each answer came out and how long it took.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use jiralink_bench::percentile_ms;

/// How one request came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A status the request expects, 1xx–3xx.
    Ok,
    /// A 4xx the request expects (a validation error it provoked on purpose).
    Expected4xx,
    /// A status below 500 the request does not expect.
    Unexpected,
    /// Any 5xx.
    ServerError,
    /// No answer: refused, reset, timed out, unreadable.
    Transport,
}

/// One route's requests.
#[derive(Debug, Default, Clone)]
pub(crate) struct RouteTally {
    pub(crate) ok: u64,
    pub expected_4xx: u64,
    pub(crate) unexpected: u64,
    pub(crate) server_errors: u64,
    pub(crate) transport: u64,
    /// Body bytes of the answers.
    pub(crate) bytes: u64,
    /// Latencies of the answers (not of transport errors) in the measured window, µs.
    pub(crate) latencies_us: Vec<u32>,
    /// What the first failure was, to say what went wrong.
    pub(crate) first_failure: Option<String>,
}

impl RouteTally {
    pub(crate) fn failures(&self) -> u64 {
        self.unexpected + self.server_errors + self.transport
    }

    fn merge(&mut self, other: Self) {
        self.ok += other.ok;
        self.expected_4xx += other.expected_4xx;
        self.unexpected += other.unexpected;
        self.server_errors += other.server_errors;
        self.transport += other.transport;
        self.bytes += other.bytes;
        self.latencies_us.extend(other.latencies_us);
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
    }

    pub(crate) fn answers(&self) -> u64 {
        self.ok + self.expected_4xx + self.unexpected + self.server_errors
    }
}

/// Every route's tally, by `METHOD /route/{param}`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally {
    pub(crate) routes: BTreeMap<&'static str, RouteTally>,
}

impl Tally {
    /// Records one request; `latency_us` is `Some` when it ended in the measured window and
    /// was answered.
    pub(crate) fn record(
        &mut self,
        route: &'static str,
        outcome: Outcome,
        latency_us: Option<u32>,
        failure: impl FnOnce() -> String,
    ) {
        let t = self.routes.entry(route).or_default();
        match outcome {
            Outcome::Ok => t.ok += 1,
            Outcome::Expected4xx => t.expected_4xx += 1,
            Outcome::Unexpected => t.unexpected += 1,
            Outcome::ServerError => t.server_errors += 1,
            Outcome::Transport => t.transport += 1,
        }
        if matches!(
            outcome,
            Outcome::Unexpected | Outcome::ServerError | Outcome::Transport
        ) && t.first_failure.is_none()
        {
            t.first_failure = Some(failure());
        }
        if let Some(us) = latency_us
            && outcome != Outcome::Transport
        {
            t.latencies_us.push(us);
        }
    }

    /// Counts the body bytes of one answer.
    pub(crate) fn add_bytes(&mut self, route: &'static str, bytes: usize) {
        self.routes.entry(route).or_default().bytes += bytes as u64;
    }

    pub(crate) fn merge(&mut self, other: Self) {
        for (route, t) in other.routes {
            self.routes.entry(route).or_default().merge(t);
        }
    }

    /// All routes as one.
    pub(crate) fn overall(&self) -> RouteTally {
        let mut all = RouteTally::default();
        for t in self.routes.values() {
            all.merge(t.clone());
        }
        all
    }
}

/// p50, p95, p99 and max of a route's measured latencies, in ms.
pub(crate) fn percentiles(latencies_us: &mut [u32]) -> [f64; 4] {
    latencies_us.sort_unstable();
    [
        percentile_ms(latencies_us, 0.50),
        percentile_ms(latencies_us, 0.95),
        percentile_ms(latencies_us, 0.99),
        latencies_us
            .last()
            .map_or(0.0, |us| f64::from(*us) / 1000.0),
    ]
}

/// One route as a JSON object (for the results line).
pub(crate) fn route_json(route: &str, t: &RouteTally, seconds: f64) -> Value {
    let mut lat = t.latencies_us.clone();
    let [p50, p95, p99, max] = percentiles(&mut lat);
    json!({
        "route": route,
        "measured": lat.len(),
        "per_second": lat.len() as f64 / seconds,
        "ok": t.ok,
        "expected_4xx": t.expected_4xx,
        "unexpected": t.unexpected,
        "server_errors": t.server_errors,
        "transport_errors": t.transport,
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
        "max_ms": max,
        "first_failure": t.first_failure,
    })
}

/// The Markdown table of every route and the overall row.
pub(crate) fn print_table(tally: &Tally, seconds: f64) {
    println!(
        "| Route | Measured | Per second | p50 ms | p95 ms | p99 ms | Max ms | Expected 4xx | Unexpected | 5xx | Transport errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let overall = tally.overall();
    let rows = tally
        .routes
        .iter()
        .map(|(r, t)| (*r, t))
        .chain(std::iter::once(("**all**", &overall)));
    for (route, t) in rows {
        let mut lat = t.latencies_us.clone();
        let [p50, p95, p99, max] = percentiles(&mut lat);
        println!(
            "| {route} | {} | {:.1} | {p50:.1} | {p95:.1} | {p99:.1} | {max:.0} | {} | {} | {} | {} |",
            lat.len(),
            lat.len() as f64 / seconds,
            t.expected_4xx,
            t.unexpected,
            t.server_errors,
            t.transport,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_and_the_first_kept() {
        let mut a = Tally::default();
        a.record("GET /x", Outcome::Ok, Some(1000), String::new);
        a.record("GET /x", Outcome::Expected4xx, Some(2000), String::new);
        a.record("GET /x", Outcome::ServerError, Some(3000), || "500".into());
        let mut b = Tally::default();
        b.record("GET /x", Outcome::Transport, Some(9000), || "reset".into());
        b.record("GET /y", Outcome::Unexpected, None, || "404".into());
        a.merge(b);
        let x = &a.routes["GET /x"];
        assert_eq!(
            (x.ok, x.expected_4xx, x.server_errors, x.transport),
            (1, 1, 1, 1)
        );
        assert_eq!(x.failures(), 2);
        assert_eq!(x.first_failure.as_deref(), Some("500"));
        assert_eq!(
            x.latencies_us,
            vec![1000, 2000, 3000],
            "no latency for no answer"
        );
        let all = a.overall();
        assert_eq!(all.failures(), 3);
        assert_eq!(all.answers(), 4);
    }
}
