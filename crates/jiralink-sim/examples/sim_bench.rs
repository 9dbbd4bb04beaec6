//! Load benchmark of the simulator's platform search (see docs/benchmarks.md).
//!
//! ```console
//! cargo run --release -p jiralink-sim --example sim_bench -- [ISSUES] [SECONDS] [WORKERS]
//! ```
//!
//! Starts a simulator whose default site holds ISSUES generated issues (default 1,000,000),
//! then measures, over plain keep-alive HTTP/1.1 on 127.0.0.1:
//!
//! * the first `/search/jql` page (a full evaluation of the JQL over every issue);
//! * pages per second of `fields=*all&maxResults=100` paging with `nextPageToken`, WORKERS
//!   concurrent connections, for SECONDS;
//! * pages per second of id-only pages of 5,000;
//! * resident and peak memory (`VmRSS`, `VmHWM`).
//!
//! A raw socket client keeps the client's own cost small, so the figures describe the
//! simulator.

use std::time::{Duration, Instant};

use base64::Engine as _;
use jiralink_sim::{DataSize, Sim, SimConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Conn {
    stream: TcpStream,
    host: String,
    auth: String,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: std::net::SocketAddr, auth: &str) -> std::io::Result<Self> {
        Ok(Self {
            stream: TcpStream::connect(addr).await?,
            host: addr.to_string(),
            auth: auth.to_owned(),
            buf: Vec::with_capacity(1 << 20),
        })
    }

    /// Sends a GET and returns the status and body.
    async fn get(&mut self, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nAccept: application/json\r\n\r\n",
            self.host, self.auth
        );
        self.stream.write_all(request.as_bytes()).await?;
        self.buf.clear();
        let mut chunk = vec![0u8; 1 << 16];
        let header_end = loop {
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::other("connection closed"));
            }
            self.buf.extend_from_slice(&chunk[..n]);
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..header_end]).to_string();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while self.buf.len() < header_end + length {
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::other("connection closed"));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok((status, self.buf[header_end..header_end + length].to_vec()))
    }
}

fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let pick = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .map(|l| l[key.len()..].trim().to_owned())
            .unwrap_or_else(|| "n/a".to_owned())
    };
    format!("VmRSS {} / VmHWM {}", pick("VmRSS:"), pick("VmHWM:"))
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The token without parsing the whole page (the client must stay cheap).
fn next_token(body: &[u8]) -> Option<String> {
    let marker = b"\"nextPageToken\":\"";
    let start = body.windows(marker.len()).rposition(|w| w == marker)? + marker.len();
    let len = body[start..].iter().position(|b| *b == b'"')?;
    String::from_utf8(body[start..start + len].to_vec()).ok()
}

/// Pages through `jql` for `seconds`, restarting at the end; returns (pages, bytes).
async fn hammer(
    addr: std::net::SocketAddr,
    auth: String,
    jql: String,
    params: &'static str,
    seconds: u64,
) -> std::io::Result<(u64, u64)> {
    let mut conn = Conn::open(addr, &auth).await?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut pages, mut bytes) = (0u64, 0u64);
    let mut token: Option<String> = None;
    while Instant::now() < deadline {
        let mut path = format!("/rest/api/3/search/jql?jql={}&{params}", enc(&jql));
        if let Some(t) = &token {
            path.push_str("&nextPageToken=");
            path.push_str(&enc(t));
        }
        let (status, body) = conn.get(&path).await?;
        if status != 200 {
            return Err(std::io::Error::other(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        pages += 1;
        bytes += body.len() as u64;
        token = next_token(&body);
    }
    Ok((pages, bytes))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let issues: u64 = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let seconds: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10);
    let workers: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(2);

    let mut config = SimConfig {
        size: DataSize::Large,
        ..SimConfig::default()
    };
    config.knobs.burst.enabled = false;
    config.knobs.quota_points_per_hour = None;
    let sim = Sim::start(config).await?;
    let addr = sim.local_addr();
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            sim.samples().email,
            sim.samples().api_token
        ))
    );
    println!(
        "jiralink-sim search benchmark: {issues} issues, {workers} workers, {seconds} s per run"
    );
    println!("memory at start: {}", memory());

    let started = Instant::now();
    if issues != 1_000_000 {
        sim.control().generate_issues("demo", issues)?;
    }
    let mut conn = Conn::open(addr, &auth).await?;
    let (status, _) = conn.get("/rest/api/3/project/search").await?;
    println!(
        "site ready in {:.2} s (status {status}); memory: {}",
        started.elapsed().as_secs_f64(),
        memory()
    );

    let jql = "project = DEMO ORDER BY key ASC".to_owned();
    let first = Instant::now();
    let (status, body) = conn
        .get(&format!(
            "/rest/api/3/search/jql?jql={}&fields=*all&maxResults=100",
            enc(&jql)
        ))
        .await?;
    println!(
        "first page (evaluates the JQL over every issue): {:.0} ms, status {status}, {} bytes; memory: {}",
        first.elapsed().as_secs_f64() * 1000.0,
        body.len(),
        memory()
    );
    let count = Instant::now();
    let (_, body) = conn
        .get(&format!(
            "/rest/api/3/search/jql?jql={}&fields=summary&maxResults=1",
            enc("created >= -365d")
        ))
        .await?;
    println!(
        "unselective query, first page: {:.0} ms ({} bytes)",
        count.elapsed().as_secs_f64() * 1000.0,
        body.len()
    );

    for (label, params) in [
        ("fields=*all, 100 per page", "fields=*all&maxResults=100"),
        (
            "fields=id,key, 5000 per page",
            "fields=id,key&maxResults=5000",
        ),
    ] {
        let mut tasks = Vec::new();
        for _ in 0..workers {
            tasks.push(tokio::spawn(hammer(
                addr,
                auth.clone(),
                jql.clone(),
                params,
                seconds,
            )));
        }
        let (mut pages, mut bytes) = (0u64, 0u64);
        for t in tasks {
            let (p, b) = t.await??;
            pages += p;
            bytes += b;
        }
        let secs = seconds as f64;
        println!(
            "{label}: {:.0} pages/s, {:.1} MB/s",
            pages as f64 / secs,
            bytes as f64 / secs / 1e6
        );
    }
    // `worklog/updated` builds its ordered index of generated worklogs on first use.
    for (label, since) in [("first (builds the index)", "0"), ("again", "1000")] {
        let t = Instant::now();
        let (status, body) = conn
            .get(&format!("/rest/api/3/worklog/updated?since={since}"))
            .await?;
        println!(
            "worklog/updated {label}: {:.0} ms, status {status}, {} bytes; memory: {}",
            t.elapsed().as_secs_f64() * 1000.0,
            body.len(),
            memory()
        );
    }
    println!("memory at end: {}", memory());
    sim.shutdown().await;
    Ok(())
}
