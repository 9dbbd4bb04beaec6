//! The HTTP half: seeding connections through the API, the plain baseline server and the
//! load generator.
//!
//! The client is hyper's HTTP/1.1 connection API with no pool: every client task owns one
//! keep-alive connection per address, sends one request at a time on it and reads the whole
//! body (counting bytes, copying nothing), so the client does as little as an HTTP client can.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpStream;

use jiralink_bench::percentile_ms;

use crate::BoxError;
use crate::proc::{CpuWindow, cpus, load_average};

/// `http://127.0.0.1:PORT` (a path, if any, is ignored) as a socket address.
fn parse_target(url: &str) -> Result<SocketAddr, BoxError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// addresses are supported"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .parse()
        .map_err(|e| format!("{url}: not an IP address and port ({e})").into())
}

/// One keep-alive HTTP/1.1 connection to one address.
struct Conn {
    addr: SocketAddr,
    host: HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// What one request got: its status and how many body bytes.
struct Answer {
    status: StatusCode,
    bytes: usize,
    body: Option<Bytes>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Result<Self, BoxError> {
        Ok(Self {
            addr,
            host: HeaderValue::from_str(&addr.to_string())?,
            sender: None,
        })
    }

    async fn connect(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, BoxError> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            let (sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            self.sender = Some(sender);
        }
        self.sender.as_mut().ok_or_else(|| "no connection".into())
    }

    /// Sends one request and reads the whole answer; `keep` keeps the body.
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        auth: &HeaderValue,
        body: Option<Bytes>,
        keep: bool,
    ) -> Result<Answer, BoxError> {
        let host = self.host.clone();
        let result = async {
            let sender = self.connect().await?;
            sender.ready().await?;
            let mut req = Request::builder()
                .method(method)
                .uri(path)
                .header(header::HOST, host)
                .header(header::AUTHORIZATION, auth);
            if body.is_some() {
                req = req.header(header::CONTENT_TYPE, "application/json");
            }
            let req = req.body(Full::new(body.unwrap_or_default()))?;
            let res = sender.send_request(req).await?;
            let status = res.status();
            let mut body = res.into_body();
            if keep {
                let all = body.collect().await?.to_bytes();
                return Ok(Answer {
                    status,
                    bytes: all.len(),
                    body: Some(all),
                });
            }
            let mut bytes = 0;
            while let Some(frame) = body.frame().await {
                if let Some(data) = frame?.data_ref() {
                    bytes += data.len();
                }
            }
            Ok::<_, BoxError>(Answer {
                status,
                bytes,
                body: None,
            })
        }
        .await;
        if result.is_err() {
            // A broken connection is opened again on the next request.
            self.sender = None;
        }
        result
    }
}

fn bearer(key: &str) -> Result<HeaderValue, BoxError> {
    let mut value = HeaderValue::from_str(&format!("Bearer {key}"))?;
    value.set_sensitive(true);
    Ok(value)
}

#[derive(Debug, clap::Args)]
pub(crate) struct SeedArgs {
    /// The server, e.g. http://127.0.0.1:8080
    #[arg(long)]
    url: String,
    /// The API key for /v1
    #[arg(long, env = "JIRALINK_API_KEY", hide_env_values = true)]
    key: String,
    /// How many connections to create
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Requests in flight while creating them
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Where to save the body of GET /v1/connections afterwards
    #[arg(long)]
    body_out: std::path::PathBuf,
}

/// Creates `count` Basic connections named `bench-0000`, … through `POST /v1/connections`
/// (which does not contact Atlassian), then saves one `GET /v1/connections` body.
pub(crate) async fn seed(args: &SeedArgs) -> Result<(), BoxError> {
    let addr = parse_target(&args.url)?;
    let auth = bearer(&args.key)?;
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency.max(1) {
        let (next, auth, count) = (next.clone(), auth.clone(), args.count);
        tasks.spawn(async move {
            let mut conn = Conn::new(addr)?;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, BoxError>(());
                }
                let body = json!({
                    "name": format!("bench-{i:04}"),
                    "apiType": "cloud-platform",
                    "subdomain": "demo",
                    "authType": "basic",
                    "username": "x@example.com",
                    "apiToken": format!("bench-api-token-{i:04}-not-a-real-one"),
                });
                let answer = conn
                    .send(
                        Method::POST,
                        "/v1/connections",
                        &auth,
                        Some(Bytes::from(body.to_string())),
                        true,
                    )
                    .await?;
                if answer.status != StatusCode::CREATED {
                    let text = answer.body.unwrap_or_default();
                    return Err(format!(
                        "POST /v1/connections answered {}: {}",
                        answer.status,
                        String::from_utf8_lossy(&text)
                    )
                    .into());
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut conn = Conn::new(addr)?;
    let answer = conn
        .send(Method::GET, "/v1/connections", &auth, None, true)
        .await?;
    let body = answer.body.unwrap_or_default();
    if answer.status != StatusCode::OK {
        return Err(format!("GET /v1/connections answered {}", answer.status).into());
    }
    let listed = serde_json::from_slice::<Vec<serde_json::Value>>(&body)?.len();
    if listed < args.count {
        return Err(format!("GET /v1/connections lists {listed}, not {}", args.count).into());
    }
    std::fs::write(&args.body_out, &body)?;
    println!(
        "{}",
        json!({
            "kind": "seed",
            "connections": listed,
            "seconds": seconds,
            "body_bytes": body.len(),
        })
    );
    Ok(())
}

/// Answers `body` with `200 application/json` on every path and method.
pub(crate) async fn plain_serve(body: &Path, bind: SocketAddr) -> Result<(), BoxError> {
    let bytes = Bytes::from(std::fs::read(body)?);
    let app = axum::Router::new().fallback(move || {
        let bytes = bytes.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], bytes) }
    });
    let listener = tokio::net::TcpListener::bind(bind).await?;
    eprintln!("Serving on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

#[derive(Debug, clap::Args)]
pub(crate) struct LoadArgs {
    /// A server address, e.g. http://127.0.0.1:8080; repeat it to spread the load
    /// round-robin over several
    #[arg(long = "url", required = true)]
    urls: Vec<String>,
    /// The API key sent as a bearer token
    #[arg(long, env = "JIRALINK_API_KEY", hide_env_values = true)]
    key: String,
    /// The path to GET
    #[arg(long, default_value = "/v1/connections")]
    path: String,
    /// Clients, each with one request in flight at a time
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds of load before measuring
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Seconds measured
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Server processes whose CPU time to measure (repeat for several)
    #[arg(long = "pid")]
    pids: Vec<u32>,
    /// A PostgreSQL database: also measure the CPU time of the PostgreSQL processes
    /// (backends) serving the other clients of that database
    #[arg(long)]
    pg_backends_of: Option<String>,
    /// What this run is, for the report
    #[arg(long)]
    label: String,
    /// The label of the run this one is compared with
    #[arg(long)]
    baseline: Option<String>,
}

/// The process ids of the PostgreSQL backends connected to the database of `pool`, but for
/// the pool's own.
async fn pg_backends(pool: &sqlx::PgPool) -> Result<Vec<u32>, BoxError> {
    let pids: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
    )
    .fetch_all(pool)
    .await?;
    Ok(pids
        .into_iter()
        .filter_map(|p| u32::try_from(p).ok())
        .collect())
}

/// What one client task saw in the measured window.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    bytes: u64,
    errors: u64,
    first_error: Option<String>,
}

/// A closed loop: `concurrency` clients, each sending its next request as soon as the last
/// one is answered, to the addresses in turn (client `i` starts at address `i`).
pub(crate) async fn load(args: &LoadArgs) -> Result<(), BoxError> {
    let targets = args
        .urls
        .iter()
        .map(|u| parse_target(u))
        .collect::<Result<Vec<_>, _>>()?;
    let auth = bearer(&args.key)?;
    let path: Arc<str> = Arc::from(args.path.as_str());
    let pg = match &args.pg_backends_of {
        Some(url) => Some(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await?,
        ),
        None => None,
    };
    let warmup = Duration::try_from_secs_f64(args.warmup)?;
    let measured = Duration::try_from_secs_f64(args.seconds)?;
    let start = Instant::now();
    let window = (start + warmup, start + warmup + measured);

    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..args.concurrency.max(1) {
        let (targets, auth, path) = (targets.clone(), auth.clone(), path.clone());
        tasks.spawn(async move {
            let mut conns = targets
                .iter()
                .map(|a| Conn::new(*a))
                .collect::<Result<Vec<_>, _>>()?;
            let mut tally = Tally::default();
            let mut turn = client;
            loop {
                let sent = Instant::now();
                if sent >= window.1 {
                    return Ok::<_, BoxError>(tally);
                }
                let n = conns.len();
                let conn = &mut conns[turn % n];
                turn += 1;
                let answer = conn.send(Method::GET, &path, &auth, None, false).await;
                let done = Instant::now();
                if done < window.0 || done >= window.1 {
                    continue;
                }
                match answer {
                    Ok(a) if a.status == StatusCode::OK => {
                        let us = done.duration_since(sent).as_micros();
                        tally
                            .latencies_us
                            .push(u32::try_from(us).unwrap_or(u32::MAX));
                        tally.bytes += a.bytes as u64;
                    }
                    Ok(a) => {
                        tally.errors += 1;
                        tally
                            .first_error
                            .get_or_insert_with(|| format!("status {}", a.status));
                    }
                    Err(e) => {
                        tally.errors += 1;
                        tally.first_error.get_or_insert_with(|| e.to_string());
                        // Do not spin on a server that refuses connections.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        });
    }

    // The pools have grown by the end of the warm-up: the backends then serving are those
    // measured (one that exits during the window is left out).
    let backends = match &pg {
        Some(pool) => pg_backends(pool).await?,
        None => Vec::new(),
    };
    tokio::time::sleep_until(window.0.into()).await;
    let cpu = CpuWindow::start(&args.pids)?;
    let db_cpu = backends
        .iter()
        .filter_map(|p| Some((*p, crate::proc::cpu_ticks(*p).ok()?)))
        .collect::<Vec<_>>();
    tokio::time::sleep_until(window.1.into()).await;
    let cpu = cpu.stop()?;
    let db_ms = pg.as_ref().map(|_| {
        let ticks: u64 = db_cpu
            .iter()
            .filter_map(|(p, before)| {
                Some(crate::proc::cpu_ticks(*p).ok()?.saturating_sub(*before))
            })
            .sum();
        ticks as f64 * 1000.0 / crate::proc::clock_ticks_per_second() as f64
    });
    let load_avg = load_average();

    let mut latencies = Vec::new();
    let (mut bytes, mut errors, mut first_error) = (0u64, 0u64, None);
    while let Some(done) = tasks.join_next().await {
        let tally = done??;
        latencies.extend(tally.latencies_us);
        bytes += tally.bytes;
        errors += tally.errors;
        first_error = first_error.or(tally.first_error);
    }
    latencies.sort_unstable();
    let requests = latencies.len();
    let per_req = |ms: f64| {
        if requests == 0 {
            0.0
        } else {
            ms / requests as f64
        }
    };
    println!(
        "{}",
        json!({
            "kind": "http",
            "label": args.label,
            "baseline": args.baseline,
            "addresses": targets.len(),
            "concurrency": args.concurrency,
            "seconds": args.seconds,
            "requests": requests,
            "per_second": requests as f64 / args.seconds,
            "p50_ms": percentile_ms(&latencies, 0.50),
            "p99_ms": percentile_ms(&latencies, 0.99),
            "max_ms": latencies.last().map_or(0.0, |us| f64::from(*us) / 1000.0),
            "errors": errors,
            "first_error": first_error,
            "bytes_per_response": if requests == 0 { 0 } else { bytes / requests as u64 },
            "server_cpu_ms_per_request": per_req(cpu.servers_ms),
            "client_cpu_ms_per_request": per_req(cpu.own_ms),
            "database_cpu_ms_per_request": db_ms.map(per_req),
            "database_backends": db_cpu.len(),
            "machine_busy_pct": cpu.machine_busy_pct,
            "load_average": load_avg,
            "cpus": cpus(),
        })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_loopback_addresses() {
        assert_eq!(
            parse_target("http://127.0.0.1:8080/v1").unwrap(),
            "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
        );
        assert!(parse_target("https://127.0.0.1:1").is_err());
        assert!(parse_target("http://localhost:1").is_err());
    }
}
