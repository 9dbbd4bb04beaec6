//! The history chart of an export definition: one bar per run for the records it wrote
//! (left axis) and a line through the runs' durations (right axis), oldest run on the left.
//!
//! Rendered on the server as inline SVG (`templates/exports/chart.html`) from numbers
//! computed here, so the page needs no script and no chart library; the stylesheet colours it
//! by the runs' states. Every bar carries a `<title>` (the browser's tooltip) and links to its
//! run, and the figure has a text summary for screen readers.

use askama::Template;

/// The most runs the chart shows: more bars than this would be too thin to read.
pub(crate) const MAX_RUNS: usize = 30;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 64.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

/// One run as the chart reads it.
#[derive(Debug, Clone)]
pub(crate) struct ChartRun {
    /// The run's page.
    pub(crate) href: String,
    /// When it started, as shown under its bar.
    pub(crate) label: String,
    /// Records written, every resource together.
    pub(crate) records: u64,
    /// How long it took; `None` while it runs (or if it never started).
    pub(crate) duration_ms: Option<u64>,
    /// `running`, `succeeded`, `failed`, `cancelled` or `skipped`: the bar's colour.
    pub(crate) state: String,
}

/// A bar: the records of one run.
#[derive(Debug, Clone)]
pub(crate) struct Bar {
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) width: f64,
    pub(crate) height: f64,
    pub(crate) state: String,
    pub(crate) href: String,
    pub(crate) title: String,
    pub(crate) records: u64,
    /// Empty when the run has no duration.
    pub(crate) duration_ms: String,
}

/// A point of the duration line.
#[derive(Debug, Clone)]
pub(crate) struct Dot {
    pub(crate) x: f64,
    pub(crate) y: f64,
}

/// A labelled gridline of an axis.
#[derive(Debug, Clone)]
pub(crate) struct Tick {
    pub(crate) y: f64,
    pub(crate) label: String,
}

/// A label under the x axis.
#[derive(Debug, Clone)]
pub(crate) struct XLabel {
    pub(crate) x: f64,
    pub(crate) label: String,
}

#[derive(Debug, Clone, Template)]
#[template(path = "exports/chart.html")]
pub(crate) struct HistoryChart {
    pub(crate) width: f64,
    pub(crate) height: f64,
    pub(crate) left: f64,
    pub(crate) right: f64,
    pub(crate) top: f64,
    pub(crate) bottom: f64,
    pub(crate) bars: Vec<Bar>,
    pub(crate) dots: Vec<Dot>,
    /// The duration line's `points` attribute (empty with fewer than two durations).
    pub(crate) line: String,
    pub(crate) record_ticks: Vec<Tick>,
    pub(crate) duration_ticks: Vec<Tick>,
    pub(crate) x_labels: Vec<XLabel>,
    /// What the chart shows, in words.
    pub(crate) summary: String,
}

impl HistoryChart {
    /// The chart of `runs`, given newest first (as runs are listed); `None` without runs.
    pub(crate) fn of(runs: &[ChartRun]) -> Option<Self> {
        if runs.is_empty() {
            return None;
        }
        let runs: Vec<&ChartRun> = runs.iter().take(MAX_RUNS).rev().collect();
        let n = runs.len();
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let bottom = TOP + plot_h;
        let slot = plot_w / n as f64;
        let bar_w = (slot * 0.6).min(32.0);

        let max_records = nice_ceiling(runs.iter().map(|r| r.records).max().unwrap_or(0));
        let max_ms = nice_ceiling(runs.iter().filter_map(|r| r.duration_ms).max().unwrap_or(0));
        let y_of = |value: u64, max: u64| bottom - plot_h * (value as f64 / max as f64);

        let mut bars = Vec::with_capacity(n);
        let mut dots = Vec::new();
        for (i, run) in runs.iter().enumerate() {
            let centre = LEFT + slot * (i as f64 + 0.5);
            let y = y_of(run.records, max_records);
            // A run that wrote nothing still shows a sliver, so it can be seen and hovered.
            let height = (bottom - y).max(1.5);
            let duration = run.duration_ms.map(duration_text);
            bars.push(Bar {
                x: round(centre - bar_w / 2.0),
                y: round(bottom - height),
                width: round(bar_w),
                height: round(height),
                state: run.state.clone(),
                href: run.href.clone(),
                title: format!(
                    "{}: {} record{}{}, {}",
                    run.label,
                    thousands(run.records),
                    if run.records == 1 { "" } else { "s" },
                    duration
                        .as_ref()
                        .map(|d| format!(" in {d}"))
                        .unwrap_or_default(),
                    run.state
                ),
                records: run.records,
                duration_ms: run.duration_ms.map(|d| d.to_string()).unwrap_or_default(),
            });
            if let Some(ms) = run.duration_ms {
                dots.push(Dot {
                    x: round(centre),
                    y: round(y_of(ms, max_ms)),
                });
            }
        }
        let line = if dots.len() >= 2 {
            dots.iter()
                .map(|d| format!("{},{}", d.x, d.y))
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            String::new()
        };
        let ticks = |max: u64, text: &dyn Fn(u64) -> String| {
            [0, max / 2, max]
                .into_iter()
                .map(|v| Tick {
                    y: round(y_of(v, max)),
                    label: text(v),
                })
                .collect::<Vec<_>>()
        };
        let record_ticks = ticks(max_records, &thousands);
        let duration_ticks = ticks(max_ms, &duration_text);
        // At most about six labels under the axis, always the newest run's.
        let every = n.div_ceil(6).max(1);
        let x_labels = runs
            .iter()
            .enumerate()
            .filter(|(i, _)| (n - 1 - i).is_multiple_of(every))
            .map(|(i, run)| XLabel {
                x: round(LEFT + slot * (i as f64 + 0.5)),
                label: run.label.clone(),
            })
            .collect();
        let total: u64 = runs.iter().map(|r| r.records).sum();
        let summary = format!(
            "History of the last {n} run{}: {} records in all, at most {} in one run; \
             the longest took {}.",
            if n == 1 { "" } else { "s" },
            thousands(total),
            thousands(runs.iter().map(|r| r.records).max().unwrap_or(0)),
            runs.iter()
                .filter_map(|r| r.duration_ms)
                .max()
                .map_or_else(|| "no time yet".to_owned(), duration_text)
        );
        Some(Self {
            width: WIDTH,
            height: HEIGHT,
            left: LEFT,
            right: WIDTH - RIGHT,
            top: TOP,
            bottom,
            bars,
            dots,
            line,
            record_ticks,
            duration_ticks,
            x_labels,
            summary,
        })
    }
}

/// One decimal place: enough for a chart, and short in the page.
fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// The smallest "nice" number (1, 2 or 5 times a power of ten) at or above `v` (at least 1),
/// so the axis labels read well.
fn nice_ceiling(v: u64) -> u64 {
    let mut base = 1_u64;
    loop {
        for m in [1, 2, 5] {
            let candidate = base.saturating_mul(m);
            if candidate >= v || candidate == u64::MAX {
                return candidate;
            }
        }
        base = base.saturating_mul(10);
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration as people read it: `850 ms`, `12.3 s`, `4 min 5 s`, `2 h 3 min`.
pub(crate) fn duration_text(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min {} s", ms / 60_000, ms % 60_000 / 1000),
        _ => format!("{} h {} min", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn run(i: u64, records: u64, ms: Option<u64>, state: &str) -> ChartRun {
        ChartRun {
            href: format!("/runs/{i}"),
            label: format!("run {i}"),
            records,
            duration_ms: ms,
            state: state.to_owned(),
        }
    }

    #[test]
    fn no_runs_no_chart() {
        assert!(HistoryChart::of(&[]).is_none());
    }

    #[test]
    fn bars_are_oldest_first_and_scaled_to_the_largest_run() {
        // Newest first, as listed.
        let runs = [
            run(3, 50, Some(2_000), "succeeded"),
            run(2, 100, Some(4_000), "succeeded"),
            run(1, 0, None, "failed"),
        ];
        let chart = HistoryChart::of(&runs).unwrap();
        let hrefs: Vec<&str> = chart.bars.iter().map(|b| b.href.as_str()).collect();
        assert_eq!(hrefs, ["/runs/1", "/runs/2", "/runs/3"]);
        // 100 is the axis maximum: that bar fills the plot, the 50 one half of it.
        let plot_h = HEIGHT - TOP - BOTTOM;
        assert_eq!(chart.bars[1].height, round(plot_h));
        assert_eq!(chart.bars[2].height, round(plot_h / 2.0));
        // A run without records still shows a sliver.
        assert!(chart.bars[0].height > 0.0);
        assert!(chart.bars.windows(2).all(|w| w[0].x < w[1].x));
        // Two durations: a line through both; the failed run without one has no dot.
        assert_eq!(chart.dots.len(), 2);
        assert_eq!(chart.line.split(' ').count(), 2);
        assert_eq!(
            chart.bars[1].title,
            "run 2: 100 records in 4.0 s, succeeded"
        );
        assert_eq!(chart.record_ticks.last().unwrap().label, "100");
        assert_eq!(chart.duration_ticks.last().unwrap().label, "5.0 s");
        assert!(chart.summary.contains("150 records"), "{}", chart.summary);
    }

    #[test]
    fn the_svg_escapes_and_links() {
        let mut r = run(1, 7, Some(10), "succeeded");
        r.label = "<b>".to_owned();
        let svg = HistoryChart::of(&[r]).unwrap().to_string();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(!svg.contains("<b>"), "{svg}");
        assert!(svg.contains("href=\"/runs/1\""), "{svg}");
        assert!(svg.contains("data-records=\"7\""), "{svg}");
    }

    #[test]
    fn only_the_last_runs_are_drawn() {
        let runs: Vec<ChartRun> = (0..45)
            .map(|i| run(i, i, Some(i * 10), "succeeded"))
            .collect();
        let chart = HistoryChart::of(&runs).unwrap();
        assert_eq!(chart.bars.len(), MAX_RUNS);
        assert!(chart.x_labels.len() <= 7);
        assert_eq!(chart.x_labels.last().unwrap().label, "run 0");
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(101), 200);
        assert_eq!(nice_ceiling(5_000), 5_000);
        assert_eq!(duration_text(850), "850 ms");
        assert_eq!(duration_text(12_345), "12.3 s");
        assert_eq!(duration_text(245_000), "4 min 5 s");
        assert_eq!(duration_text(7_380_000), "2 h 3 min");
    }
}
