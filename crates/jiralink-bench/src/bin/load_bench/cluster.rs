//! The processes of a run: the simulator, three `jiralink serve` on one PostgreSQL schema,
//! three plain servers for the baseline; and the resident memory of the servers over time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use jiralink_bench::BoxError;
use jiralink_bench::proc::rss_kb;

/// A directory of the run's own under the system's temporary directory, removed at the end.
pub(crate) struct WorkDir(PathBuf);

impl WorkDir {
    pub(crate) fn create() -> Result<Self, BoxError> {
        let dir =
            std::env::temp_dir().join(format!("jiralink-load-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&dir)?;
        Ok(Self(dir))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process, killed when dropped; its output goes to files of the work directory.
pub(crate) struct Process {
    pub(crate) name: String,
    child: Child,
    pub(crate) log: PathBuf,
}

impl Process {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines it wrote, to say why something failed.
    pub(crate) fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` with stdout and stderr in `<dir>/<name>.log` and waits (up to a minute,
/// reading the log as it grows) for a line holding `marker`; answers the process and that
/// line.
async fn start(
    mut cmd: Command,
    dir: &Path,
    name: &str,
    marker: &str,
) -> Result<(Process, String), BoxError> {
    let log = dir.join(format!("{name}.log"));
    let out = std::fs::File::create(&log)?;
    // Settings of the environment that runs the bench must not reach the children.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("JIRALINK_") {
            cmd.env_remove(k);
        }
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .map_err(|e| format!("{name} cannot start: {e}"))?;
    let mut process = Process {
        name: name.to_owned(),
        child,
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(&process.log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(marker)) {
            return Ok((process, line.to_owned()));
        }
        if !process.alive() {
            return Err(format!("{name} exited before it was ready:\n{}", process.tail()).into());
        }
        if Instant::now() > deadline {
            return Err(
                format!("{name} was not ready within a minute:\n{}", process.tail()).into(),
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `http://ADDR` following `prefix` in `line`, as a socket address.
fn address_after(line: &str, prefix: &str) -> Result<SocketAddr, BoxError> {
    let at = line
        .find(prefix)
        .ok_or_else(|| format!("no {prefix} in {line}"))?
        + prefix.len();
    let rest = &line[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
        .unwrap_or(rest.len());
    Ok(rest[..end].parse()?)
}

/// The simulator and what jiralink needs to know about it.
pub(crate) struct Sim {
    pub(crate) process: Process,
    pub(crate) endpoints: [(String, String); 3],
    pub(crate) email: String,
    pub(crate) token: String,
}

/// Starts `jiralink sim` on a free port with its burst and points limits off (the load is
/// on jiralink, not on the simulated Jira), and reads its `/_sim/info`.
pub(crate) async fn start_sim(jiralink: &Path, dir: &Path) -> Result<Sim, BoxError> {
    let mut cmd = Command::new(jiralink);
    cmd.args([
        "sim",
        "--port",
        "0",
        "--rate-limit-per-second",
        "0",
        "--rate-limit-points-per-hour",
        "0",
    ]);
    let (process, line) = start(cmd, dir, "sim", "Control API:").await?;
    let addr = address_after(&line, "http://")?;
    // jiralink's own client: it carries the TLS provider the workspace builds.
    let http = jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default())?;
    let info: Value = http
        .get(format!("http://{addr}/_sim/info"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let text = |pointer: &str| -> Result<String, BoxError> {
        Ok(info
            .pointer(pointer)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("/_sim/info has no {pointer}"))?
            .to_owned())
    };
    Ok(Sim {
        endpoints: [
            (
                "JIRALINK_ATLASSIAN__SITE_URL_TEMPLATE".to_owned(),
                text("/site_url_template")?,
            ),
            (
                "JIRALINK_ATLASSIAN__API_GATEWAY".to_owned(),
                text("/api_gateway")?,
            ),
            (
                "JIRALINK_ATLASSIAN__AUTH_SERVER".to_owned(),
                text("/auth_server")?,
            ),
        ],
        email: text("/sample/email")?,
        token: text("/sample/api_token")?,
        process,
    })
}

/// Starts `jiralink serve` on a free port with `env`; answers it and its address.
pub(crate) async fn start_server(
    jiralink: &Path,
    dir: &Path,
    name: &str,
    env: &[(String, String)],
) -> Result<(Process, SocketAddr), BoxError> {
    let data = dir.join(name);
    std::fs::create_dir(&data)?;
    let mut cmd = Command::new(jiralink);
    cmd.args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let (process, line) = start(cmd, dir, name, "Serving on").await?;
    let addr = address_after(&line, "Serving on http://")?;
    Ok((process, addr))
}

/// Starts this program's plain server answering `bytes` bytes on every path.
pub(crate) async fn start_plain(
    dir: &Path,
    name: &str,
    bytes: usize,
) -> Result<(Process, SocketAddr), BoxError> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["plain-serve", "--bytes", &bytes.to_string()]);
    let (process, line) = start(cmd, dir, name, "Serving on").await?;
    let addr = address_after(&line, "Serving on http://")?;
    Ok((process, addr))
}

/// Answers `bytes` bytes of HTML with `200` on every path and method: what serving a page
/// costs without jiralink.
pub(crate) async fn plain_serve(bytes: usize) -> Result<(), BoxError> {
    let body = axum::body::Bytes::from("x".repeat(bytes));
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move {
            (
                [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
                body,
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    eprintln!("Serving on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// The resident memory of some processes, sampled every second: seconds since the start
/// and one value in kB per process.
#[derive(Clone, Default)]
pub(crate) struct Samples(Arc<Mutex<Vec<Sample>>>);

/// Seconds since the start, and one resident size in kB per process.
pub(crate) type Sample = (f64, Vec<u64>);

impl Samples {
    /// Samples `pids` every `every` from now until the task is aborted.
    pub(crate) fn start(
        pids: Vec<u32>,
        start: Instant,
        every: Duration,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let samples = Self::default();
        let into = samples.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let row = pids.iter().map(|p| rss_kb(*p)).collect();
                into.0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((start.elapsed().as_secs_f64(), row));
            }
        });
        (samples, task)
    }

    pub(crate) fn rows(&self) -> Vec<Sample> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// What one process's memory did: at the start, at the end of the warm-up and at the end
/// (each the median of the samples of the few seconds there), and the least-squares slope
/// after the warm-up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Memory {
    pub(crate) start_mb: f64,
    pub(crate) warm_mb: f64,
    pub(crate) end_mb: f64,
    pub(crate) slope_mb_per_min: f64,
}

impl Memory {
    /// The growth after the warm-up.
    pub(crate) fn growth_mb(&self) -> f64 {
        self.end_mb - self.warm_mb
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The memory of column `col` of `rows`, the warm-up ending at `warm` seconds; `span`
/// seconds of samples make each point.
pub(crate) fn memory(rows: &[Sample], col: usize, warm: f64, span: f64) -> Memory {
    let mb = |r: &Sample| r.1.get(col).copied().unwrap_or(0) as f64 / 1024.0;
    let first = rows.first().map_or(0.0, |r| r.0);
    let last = rows.last().map_or(0.0, |r| r.0);
    let between = |from: f64, to: f64| {
        median(
            rows.iter()
                .filter(|r| r.0 >= from && r.0 <= to)
                .map(mb)
                .collect(),
        )
    };
    let after: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.0 >= warm)
        .map(|r| (r.0 / 60.0, mb(r)))
        .collect();
    let n = after.len() as f64;
    let slope = if after.len() < 2 {
        0.0
    } else {
        let mx = after.iter().map(|p| p.0).sum::<f64>() / n;
        let my = after.iter().map(|p| p.1).sum::<f64>() / n;
        let sxy: f64 = after.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let sxx: f64 = after.iter().map(|p| (p.0 - mx).powi(2)).sum();
        if sxx == 0.0 { 0.0 } else { sxy / sxx }
    };
    Memory {
        start_mb: between(first, first + span),
        warm_mb: between(warm, warm + span),
        end_mb: between(last - span, last),
        slope_mb_per_min: slope,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_from_banners() {
        assert_eq!(
            address_after(
                "Serving on http://127.0.0.1:4242 (public address …)",
                "Serving on http://"
            )
            .unwrap(),
            "127.0.0.1:4242".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            address_after("  Control API:  http://127.0.0.1:9/_sim/info", "http://").unwrap(),
            "127.0.0.1:9".parse::<SocketAddr>().unwrap()
        );
        assert!(address_after("nothing", "http://").is_err());
    }

    #[test]
    fn memory_growth_and_slope_come_from_the_samples() {
        // 100 MB flat for 10 s, then one more MB a minute for 10 minutes.
        let rows: Vec<(f64, Vec<u64>)> = (0..=610)
            .map(|s| {
                let s = f64::from(s);
                let mb = if s < 10.0 {
                    100.0
                } else {
                    100.0 + (s - 10.0) / 60.0
                };
                (s, vec![(mb * 1024.0) as u64])
            })
            .collect();
        let m = memory(&rows, 0, 10.0, 4.0);
        assert!((m.start_mb - 100.0).abs() < 0.01, "{m:?}");
        assert!((m.warm_mb - 100.03).abs() < 0.05, "{m:?}");
        assert!((m.end_mb - 109.97).abs() < 0.05, "{m:?}");
        assert!((m.slope_mb_per_min - 1.0).abs() < 0.01, "{m:?}");
        assert!((m.growth_mb() - 9.93).abs() < 0.1, "{m:?}");
    }
}
