//! Answers larger than the cap are refused within bounded memory, on every way a request
//! leaves jiralink: the REST client (which also carries accessible-resources and the webhook
//! API) and the OAuth 2.0 token endpoint.
//!
//! A raw TCP server on 127.0.0.1 sends what no HTTP library would: a `Content-Length` of
//! 10 GiB, or a chunked body that never ends. It counts every body byte it managed to write,
//! and the error counts what the client read, so "stopped at the cap" is measured on both
//! ends.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use jiralink_atlassian::{
    AtlassianError, JiraClient, MAX_RESPONSE_BYTES, MAX_TOKEN_RESPONSE_BYTES, oauth::TokenEndpoint,
};
use jiralink_domain::Clock as _;
use jiralink_vault::{ClientSecret, RefreshToken};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
    sync::watch,
};

use crate::{assert_no_secret, endpoints_at, http, site_client};

/// The size of each chunk the server writes.
const CHUNK: usize = 16 * 1024;
/// Longest a refused answer may take: generous for a loaded CI machine, far below the time
/// an endless body would take to fill memory.
const PROMPT: Duration = Duration::from_secs(30);
/// A small cap, so the just-under and just-over bodies stay small.
const SMALL_CAP: u64 = 256 * 1024;

/// What the server answers every request with.
#[derive(Clone, Copy, Debug)]
enum Answer {
    /// `Content-Length: n`, then body bytes for as long as the client reads.
    Declares(u64),
    /// A chunked body that never ends.
    Endless,
    /// A JSON body of exactly `len` bytes, with a `Content-Length` or chunked.
    Exactly { len: usize, chunked: bool },
}

/// The server's counts.
#[derive(Clone)]
struct Counts {
    /// Body bytes written, over all connections.
    written: Arc<AtomicU64>,
    /// Connections whose exchange is over (the server finished, or the client went away).
    done: watch::Receiver<usize>,
}

async fn serve(answer: Answer) -> (String, Counts) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let written = Arc::new(AtomicU64::new(0));
    let (done_tx, done) = watch::channel(0usize);
    let counter = Arc::clone(&written);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let counter = Arc::clone(&counter);
            let done_tx = done_tx.clone();
            tokio::spawn(async move {
                exchange(stream, answer, &counter).await;
                done_tx.send_modify(|n| *n += 1);
            });
        }
    });
    (format!("http://{addr}"), Counts { written, done })
}

/// Reads one request (head and `Content-Length` body), then answers it.
async fn exchange(mut stream: TcpStream, answer: Answer, written: &AtomicU64) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    let body_start = loop {
        let Ok(n) = stream.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        request.extend_from_slice(&buf[..n]);
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..body_start]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    while request.len() < body_start + length {
        let Ok(n) = stream.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        request.extend_from_slice(&buf[..n]);
    }

    let filler = vec![b'x'; CHUNK];
    match answer {
        Answer::Declares(len) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\
                 Connection: close\r\n\r\n"
            );
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            while stream.write_all(&filler).await.is_ok() {
                written.fetch_add(CHUNK as u64, Ordering::SeqCst);
            }
        }
        Answer::Endless => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                        Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let mut frame = format!("{CHUNK:x}\r\n").into_bytes();
            frame.extend_from_slice(&filler);
            frame.extend_from_slice(b"\r\n");
            while stream.write_all(&frame).await.is_ok() {
                written.fetch_add(CHUNK as u64, Ordering::SeqCst);
            }
        }
        Answer::Exactly { len, chunked } => {
            let body = json_of_len(len);
            let framing = if chunked {
                "Transfer-Encoding: chunked".to_owned()
            } else {
                format!("Content-Length: {len}")
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{framing}\r\n\
                 Connection: close\r\n\r\n"
            );
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for piece in body.chunks(CHUNK) {
                let sent = if chunked {
                    let mut frame = format!("{:x}\r\n", piece.len()).into_bytes();
                    frame.extend_from_slice(piece);
                    frame.extend_from_slice(b"\r\n");
                    stream.write_all(&frame).await
                } else {
                    stream.write_all(piece).await
                };
                if sent.is_err() {
                    return;
                }
                written.fetch_add(piece.len() as u64, Ordering::SeqCst);
            }
            if chunked {
                let _ = stream.write_all(b"0\r\n\r\n").await;
            }
            let _ = stream.shutdown().await;
            // Wait for the client to go away, so `done` means the exchange is over.
            let _ = stream.read(&mut buf).await;
        }
    }
}

/// A JSON object of exactly `len` bytes that reads as a `serverInfo` answer.
fn json_of_len(len: usize) -> Vec<u8> {
    let head = br#"{"version":"1001.0.0","pad":""#;
    let tail = br#""}"#;
    let mut body = head.to_vec();
    body.resize(len - tail.len(), b'x');
    body.extend_from_slice(tail);
    assert_eq!(body.len(), len);
    body
}

/// What the kernel may hold between the two ends of a loopback connection: the largest send
/// and receive buffers, plus 1 MiB for hyper's own read buffer.
fn socket_slack() -> u64 {
    let max_of = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.split_whitespace().last()?.parse::<u64>().ok())
            .unwrap_or(32 << 20)
    };
    max_of("/proc/sys/net/ipv4/tcp_rmem") + max_of("/proc/sys/net/ipv4/tcp_wmem") + (1 << 20)
}

fn client(base: &str, cap: Option<u64>) -> JiraClient {
    let (builder, _) = site_client(&endpoints_at(base));
    match cap {
        Some(cap) => builder.max_response_bytes(cap).build(),
        None => builder.build(),
    }
}

/// Waits until the server has seen `n` exchanges end.
async fn wait_done(counts: &mut Counts, n: usize) {
    tokio::time::timeout(PROMPT, counts.done.wait_for(|&d| d >= n))
        .await
        .expect("the connection was closed")
        .unwrap();
}

fn too_large(result: Result<impl std::fmt::Debug, AtlassianError>) -> (u64, Option<u64>, u64) {
    match result {
        Err(
            ref e @ AtlassianError::ResponseTooLarge {
                status,
                limit,
                declared,
                received,
            },
        ) => {
            assert_eq!(status, 200);
            assert_eq!(e.code(), "response_too_large");
            assert!(!e.is_retryable(), "{e}");
            (limit, declared, received)
        }
        other => panic!("expected ResponseTooLarge, got {other:?}"),
    }
}

#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused_before_the_body_is_read() {
    let (base, mut counts) = serve(Answer::Declares(10 << 30)).await;
    let started = Instant::now();
    let result = tokio::time::timeout(PROMPT, client(&base, None).server_info())
        .await
        .expect("the client returned");
    let elapsed = started.elapsed();
    let error = result.as_ref().err().map(ToString::to_string);
    let (limit, declared, received) = too_large(result);
    assert_eq!(limit, MAX_RESPONSE_BYTES);
    assert_eq!(declared, Some(10 << 30));
    assert_eq!(received, 0, "no byte of the body was read");
    let error = error.unwrap();
    assert!(error.contains("64 MiB"), "{error}");
    assert!(error.contains("10 GiB"), "{error}");
    assert!(
        !error.contains("http://") && !error.contains("127.0.0.1"),
        "{error}"
    );
    wait_done(&mut counts, 1).await;
    // The server wrote into socket buffers only, never the 10 GiB it declared.
    let written = counts.written.load(Ordering::SeqCst);
    assert!(written <= socket_slack(), "{written} bytes written");
    eprintln!("declared 10 GiB: refused after {elapsed:?}, server wrote {written} bytes");
}

#[tokio::test]
async fn an_endless_chunked_body_is_cut_at_the_default_cap() {
    let (base, mut counts) = serve(Answer::Endless).await;
    let started = Instant::now();
    let result = tokio::time::timeout(PROMPT, client(&base, None).server_info())
        .await
        .expect("the client returned");
    let elapsed = started.elapsed();
    let (limit, declared, received) = too_large(result);
    assert_eq!(limit, MAX_RESPONSE_BYTES);
    assert_eq!(declared, None);
    assert!(received > limit, "{received}");
    assert!(received <= limit + CHUNK as u64, "read {received} bytes");
    wait_done(&mut counts, 1).await;
    let written = counts.written.load(Ordering::SeqCst);
    assert!(
        written <= received + socket_slack(),
        "the server wrote {written} bytes, the client read {received}"
    );
    eprintln!("endless body: cut after {received} bytes read, {written} written, in {elapsed:?}");
}

#[tokio::test]
async fn bodies_just_under_the_cap_are_read_and_just_over_are_refused() {
    let cap = usize::try_from(SMALL_CAP).unwrap();
    for chunked in [false, true] {
        let (base, _) = serve(Answer::Exactly { len: cap, chunked }).await;
        let info = client(&base, Some(SMALL_CAP)).server_info().await.unwrap();
        assert_eq!(
            info.version.as_deref(),
            Some("1001.0.0"),
            "chunked {chunked}"
        );

        let (base, mut counts) = serve(Answer::Exactly {
            len: cap + 1,
            chunked,
        })
        .await;
        let result = client(&base, Some(SMALL_CAP)).server_info().await;
        let (limit, declared, received) = too_large(result);
        assert_eq!(limit, SMALL_CAP);
        if chunked {
            assert_eq!(declared, None);
            assert_eq!(
                received,
                SMALL_CAP + 1,
                "the last chunk held the one extra byte"
            );
        } else {
            assert_eq!(declared, Some(SMALL_CAP + 1));
            assert_eq!(received, 0);
        }
        wait_done(&mut counts, 1).await;
    }
    // An endless body at the small cap stops within one chunk of it.
    let (base, mut counts) = serve(Answer::Endless).await;
    let (_, _, received) = too_large(client(&base, Some(SMALL_CAP)).server_info().await);
    assert!(received <= SMALL_CAP + CHUNK as u64, "{received}");
    wait_done(&mut counts, 1).await;
}

#[tokio::test]
async fn the_gateway_calls_are_capped_too() {
    // accessible-resources goes to the gateway through the same client.
    let (base, mut counts) = serve(Answer::Endless).await;
    let result = tokio::time::timeout(
        PROMPT,
        client(&base, Some(SMALL_CAP)).accessible_resources(),
    )
    .await
    .expect("the client returned");
    let (_, _, received) = too_large(result);
    assert!(received <= SMALL_CAP + CHUNK as u64, "{received}");
    wait_done(&mut counts, 1).await;
}

#[tokio::test]
async fn the_token_endpoint_reads_at_most_its_cap() {
    const SECRET: &str = "CANARY-client-secret-9f8e7d6c5b4a";
    const REFRESH: &str = "CANARY-refresh-token-0a1b2c3d4e5f";
    let now = jiralink_atlassian::SystemClock.now();
    for answer in [Answer::Declares(10 << 30), Answer::Endless] {
        let (base, mut counts) = serve(answer).await;
        let http = http();
        let auth_server = url::Url::parse(&format!("{base}/")).unwrap();
        let secret = ClientSecret::new(SECRET);
        let endpoint = TokenEndpoint {
            http: &http,
            auth_server: &auth_server,
            client_id: "client-1",
            client_secret: &secret,
        };
        let result =
            tokio::time::timeout(PROMPT, endpoint.refresh(&RefreshToken::new(REFRESH), now))
                .await
                .expect("the token request returned");
        let text = format!("{:?} {}", result, result.as_ref().err().unwrap());
        let (limit, declared, received) = too_large(result);
        assert_eq!(limit, MAX_TOKEN_RESPONSE_BYTES, "{answer:?}");
        assert!(text.contains("64 KiB"), "{text}");
        assert_no_secret(&text, SECRET);
        assert_no_secret(&text, REFRESH);
        match answer {
            Answer::Declares(len) => {
                assert_eq!(declared, Some(len));
                assert_eq!(received, 0);
            }
            _ => assert!(received <= limit + CHUNK as u64, "{received}"),
        }
        wait_done(&mut counts, 1).await;
    }
}
