//! The table of a results file: one row per label, the median of its repeated runs with the
//! lowest and highest, and the ratio of its median rate to its baseline's.

use std::path::Path;

use serde_json::Value;

use crate::BoxError;

/// The runs of one label, in the order they appear.
struct Group {
    label: String,
    baseline: Option<String>,
    runs: Vec<Value>,
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        f64::midpoint(values[mid - 1], values[mid])
    }
}

impl Group {
    fn values(&self, field: &str) -> Vec<f64> {
        self.runs
            .iter()
            .filter_map(|r| r.get(field).and_then(Value::as_f64))
            .collect()
    }

    fn median(&self, field: &str) -> f64 {
        median(self.values(field))
    }

    /// `median (min–max)` of a field, or the median alone for one run.
    fn spread(&self, field: &str, digits: usize) -> String {
        let values = self.values(field);
        if values.is_empty() {
            return "—".to_owned();
        }
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let m = median(values.clone());
        if values.len() < 2 {
            format!("{m:.digits$}")
        } else {
            format!("{m:.digits$} ({lo:.digits$}–{hi:.digits$})")
        }
    }

    fn sum(&self, field: &str) -> u64 {
        self.runs
            .iter()
            .filter_map(|r| r.get(field).and_then(Value::as_u64))
            .sum()
    }
}

fn groups(results: &Path, kind: &str) -> Result<Vec<Group>, BoxError> {
    let text = std::fs::read_to_string(results)?;
    let mut groups: Vec<Group> = Vec::new();
    for line in text.lines().filter(|l| l.starts_with('{')) {
        let run: Value = serde_json::from_str(line)?;
        if run.get("kind").and_then(Value::as_str) != Some(kind) {
            continue;
        }
        let label = run
            .get("label")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        let baseline = run
            .get("baseline")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match groups.iter_mut().find(|g| g.label == label) {
            Some(g) => g.runs.push(run),
            None => groups.push(Group {
                label,
                baseline,
                runs: vec![run],
            }),
        }
    }
    Ok(groups)
}

fn ratio(groups: &[Group], g: &Group) -> String {
    let Some(base) = g
        .baseline
        .as_ref()
        .and_then(|b| groups.iter().find(|o| &o.label == b))
    else {
        return "baseline".to_owned();
    };
    ratio_text(g.median("per_second") / base.median("per_second"))
}

/// `0.025× (40.4× slower)`: the rate against the baseline's, and how many times slower (or
/// faster) that is.
fn ratio_text(ratio: f64) -> String {
    if ratio < 1.0 {
        format!("{ratio:.3}× ({:.1}× slower)", 1.0 / ratio)
    } else {
        format!("{ratio:.3}× ({ratio:.2}× faster)")
    }
}

/// Prints the HTTP table and the claims table (Markdown).
pub(crate) fn print(results: &Path) -> Result<(), BoxError> {
    let http = groups(results, "http")?;
    let claims = groups(results, "claims")?;
    let all: Vec<&Group> = http.iter().chain(claims.iter()).collect();
    let loads: Vec<f64> = all.iter().flat_map(|g| g.values("load_average")).collect();
    let cpus = all
        .iter()
        .flat_map(|g| g.values("cpus"))
        .next()
        .unwrap_or(f64::NAN);
    println!(
        "{cpus} CPUs; 1-minute load average at the end of the runs: median {:.2}, {:.2}–{:.2}",
        median(loads.clone()),
        loads.iter().copied().fold(f64::INFINITY, f64::min),
        loads.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    if !http.is_empty() {
        let runs = http.first().map_or(0, |g| g.runs.len());
        println!();
        println!(
            "GET requests, median of {runs} runs (lowest–highest); ratio = requests/s against the baseline"
        );
        println!();
        println!(
            "| Run | Requests/s | p50 ms | p99 ms | Server CPU ms/request | PostgreSQL CPU ms/request | Load generator CPU ms/request | Machine busy % | Ratio to baseline | Errors |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for g in &http {
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                g.label,
                g.spread("per_second", 0),
                g.spread("p50_ms", 2),
                g.spread("p99_ms", 2),
                g.spread("server_cpu_ms_per_request", 3),
                if g.values("database_cpu_ms_per_request").is_empty() {
                    "—".to_owned()
                } else {
                    g.spread("database_cpu_ms_per_request", 3)
                },
                g.spread("client_cpu_ms_per_request", 3),
                g.spread("machine_busy_pct", 0),
                ratio(&http, g),
                g.sum("errors"),
            );
        }
    }
    if !claims.is_empty() {
        let runs = claims.first().map_or(0, |g| g.runs.len());
        println!();
        println!(
            "Job claims, median of {runs} runs (lowest–highest); ratio = claims/s against the baseline"
        );
        println!();
        println!(
            "| Run | Per second | p50 ms | p99 ms | Ratio to baseline | Exactly once | Errors | Misses |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for g in &claims {
            let once = g
                .runs
                .iter()
                .all(|r| r.get("exactly_once").and_then(Value::as_bool) == Some(true));
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                g.label,
                g.spread("per_second", 0),
                g.spread("p50_ms", 2),
                g.spread("p99_ms", 2),
                ratio(&claims, g),
                if once { "yes" } else { "NO" },
                g.sum("errors"),
                g.sum("misses"),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
    }

    #[test]
    fn ratios_say_slower_or_faster() {
        assert_eq!(ratio_text(0.025), "0.025× (40.0× slower)");
        assert_eq!(ratio_text(1.144), "1.144× (1.14× faster)");
    }
}
