//! No request leaves for a host the configuration did not name, whatever a client sends.
//!
//! The configured Atlassian endpoints (site URL template, API gateway, authorization server)
//! point at the simulator; a second listener on 127.0.0.1 plays the attacker's host and counts
//! every connection it gets. Every API route and UI form that takes connection or OAuth 2.0
//! client input is sent hostile subdomains (another host, a port, a user name, a path, an IP
//! address, an IDN, percent-encoding) and extra fields naming the attacker's host
//! (`baseUrl`, `siteUrl`, `tokenUrl`, `authorizeUrl`, …); each is refused or the field is
//! ignored, and the attacker's host sees no connection at all, while the simulator sees the
//! tests and the authorization that did go out.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Browser, Fixture, KEY, Reply, call, fixture, sign_in};

/// A listener that counts the connections made to it and closes each at once.
struct Attacker {
    addr: std::net::SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl Attacker {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Self { addr, connections }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Subdomains that name, or try to name, some other host.
fn hostile_subdomains(a: &Attacker) -> Vec<String> {
    let port = a.addr.port();
    let url = a.url();
    vec![
        "evil.com/".to_owned(),
        "a.b".to_owned(),
        "127.0.0.1:80#".to_owned(),
        format!("127.0.0.1:{port}#"),
        format!("127.0.0.1:{port}"),
        format!("{url}/"),
        format!("demo.atlassian.net@127.0.0.1:{port}"),
        format!("demo@127.0.0.1:{port}"),
        format!("https://demo.atlassian.net:{port}/"),
        format!("https://demo.atlassian.net.127.0.0.1.nip.io:{port}/"),
        "demo.atlassian.net.evil.com".to_owned(),
        "démo".to_owned(),
        "ｅｖｉｌ".to_owned(),
        "%2e%2e".to_owned(),
        "..".to_owned(),
        "demo%2F..%2F..".to_owned(),
        "demo/../../x".to_owned(),
        "demo#@127.0.0.1".to_owned(),
        "demo?host=127.0.0.1".to_owned(),
        "demo\\@127.0.0.1".to_owned(),
        "demo\r\nHost: 127.0.0.1".to_owned(),
        "localhost".to_owned(),
        "[::1]".to_owned(),
        "0x7f000001".to_owned(),
        "2130706433".to_owned(),
        "127.0.0.1".to_owned(),
    ]
}

/// Extra fields a client might hope the server reads, each naming the attacker's host.
const URL_FIELDS: [&str; 10] = [
    "baseUrl",
    "siteUrl",
    "siteUrlTemplate",
    "tokenUrl",
    "authorizeUrl",
    "authServer",
    "apiGateway",
    "redirectUri",
    "url",
    "host",
];

/// The same, as a form posts them.
const FORM_URL_FIELDS: [&str; 10] = [
    "base_url",
    "site_url",
    "site_url_template",
    "token_url",
    "authorize_url",
    "auth_server",
    "api_gateway",
    "redirect_uri",
    "url",
    "host",
];

/// Whether the answer refused the input or saved/used only a bare subdomain label.
fn refused_or_bare(r: &Reply, what: &str) {
    if r.status == StatusCode::BAD_REQUEST {
        return;
    }
    let body: Value = serde_json::from_str(&r.text).unwrap_or(Value::Null);
    let sub = body["subdomain"]
        .as_str()
        .or_else(|| body["connection"]["subdomain"].as_str());
    if let Some(sub) = sub {
        assert!(
            !sub.is_empty()
                && sub
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{what}: kept {sub:?}"
        );
    }
    assert!(
        r.status.is_success() || r.status.is_client_error(),
        "{what}: {} {}",
        r.status,
        r.text
    );
}

fn basic_draft(f: &Fixture, subdomain: &str) -> Value {
    json!({
        "name": "Egress", "apiType": "cloud-platform", "subdomain": subdomain,
        "authType": "basic", "username": f.sim.samples().email,
        "apiToken": f.sim.samples().api_token,
    })
}

fn with_field(mut body: Value, field: &str, value: &str) -> Value {
    body[field] = json!(value);
    body
}

async fn api(f: &Fixture, method: Method, path: &str, body: Value) -> Reply {
    call(&f.router, method, path, Some(body), Some(KEY)).await
}

async fn delete_if_created(f: &Fixture, r: &Reply) {
    if r.status == StatusCode::CREATED {
        let id = r.json()["id"].as_str().unwrap().to_owned();
        let d = call(
            &f.router,
            Method::DELETE,
            &format!("/v1/connections/{id}"),
            None,
            Some(KEY),
        )
        .await;
        assert!(d.status.is_success(), "{}", d.text);
    }
}

async fn through_the_api(f: &Fixture, a: &Attacker) {
    // A connection to edit.
    let r = api(f, Method::POST, "/v1/connections", basic_draft(f, "demo")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let version = r.json()["version"].clone();
    let one = format!("/v1/connections/{id}");

    for sub in hostile_subdomains(a) {
        let r = api(
            f,
            Method::POST,
            "/v1/connections/test",
            basic_draft(f, &sub),
        )
        .await;
        refused_or_bare(&r, &format!("test {sub:?}"));
        let r = api(f, Method::POST, "/v1/connections", basic_draft(f, &sub)).await;
        refused_or_bare(&r, &format!("create {sub:?}"));
        delete_if_created(f, &r).await;
        let mut body = basic_draft(f, &sub);
        body["version"] = version.clone();
        let r = api(f, Method::PUT, &one, body).await;
        refused_or_bare(&r, &format!("replace {sub:?}"));
    }
    for field in URL_FIELDS {
        let evil = format!("{}/", a.url());
        let r = api(
            f,
            Method::POST,
            "/v1/connections/test",
            with_field(basic_draft(f, "demo"), field, &evil),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "test {field}: {}",
            r.text
        );
        let r = api(
            f,
            Method::POST,
            "/v1/connections",
            with_field(basic_draft(f, "demo"), field, &evil),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "create {field}: {}",
            r.text
        );
        let r = api(
            f,
            Method::PUT,
            &one,
            with_field(basic_draft(f, "demo"), field, &evil),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "replace {field}: {}",
            r.text
        );
        let client = json!({"name": format!("App {field}"), "clientId": "x", "clientSecret": "y"});
        let r = api(
            f,
            Method::POST,
            "/v1/oauth-clients",
            with_field(client, field, &evil),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "client {field}: {}",
            r.text
        );
    }
    // The saved connection still tests against the simulator.
    let r = call(
        &f.router,
        Method::POST,
        &format!("{one}/test"),
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn through_the_forms(f: &Fixture, a: &Attacker, b: &Browser) {
    let samples = f.sim.samples().clone();
    let evil = format!("{}/", a.url());
    let fields = |sub: &str| -> Vec<(String, String)> {
        vec![
            ("name".to_owned(), format!("Form {}", sub.len())),
            ("api_type".to_owned(), "cloud-platform".to_owned()),
            ("subdomain".to_owned(), sub.to_owned()),
            ("auth_type".to_owned(), "basic".to_owned()),
            ("username".to_owned(), samples.email.clone()),
            ("api_token".to_owned(), samples.api_token.clone()),
        ]
    };
    let post = |path: &'static str, fields: Vec<(String, String)>| async move {
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        b.post(f, path, &pairs).await
    };
    for sub in hostile_subdomains(a) {
        for path in [
            "/connections/test",
            "/connections/http-view",
            "/connections",
        ] {
            let r = post(path, fields(&sub)).await;
            assert!(
                !r.status.is_server_error(),
                "{path} {sub:?}: {} {}",
                r.status,
                r.text
            );
        }
    }
    // Extra fields are not read: the test goes to the simulator and succeeds.
    let mut all = fields("demo");
    all.extend(
        FORM_URL_FIELDS
            .iter()
            .map(|k| ((*k).to_owned(), evil.clone())),
    );
    let r = post("/connections/test", all.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["result"], "passed", "{}", r.text);
    let site = r.json()["siteUrl"].as_str().unwrap().to_owned();
    assert_eq!(site, f.sim.site_url("demo"), "{}", r.text);
    let mut client = vec![
        ("name".to_owned(), "Form app".to_owned()),
        ("client_id".to_owned(), samples.oauth_client_id.clone()),
        (
            "client_secret".to_owned(),
            samples.oauth_client_secret.clone(),
        ),
    ];
    client.extend(
        FORM_URL_FIELDS
            .iter()
            .map(|k| ((*k).to_owned(), evil.clone())),
    );
    let r = post("/oauth-clients", client).await;
    assert!(!r.status.is_server_error(), "{}", r.text);
}

/// An OAuth 2.0 connection authorized from start to finish: the authorize URL, the token
/// exchange and accessible-resources all go to the configured servers.
async fn authorization(f: &Fixture) {
    let id = crate::sim_oauth_connection(&f.router, &f.sim, "Egress OAuth").await;
    let start = call(
        &f.router,
        Method::POST,
        &format!("/v1/connections/{id}/authorize"),
        Some(json!({"authorizeUrl": "http://127.0.0.1:1/"})),
        Some(KEY),
    )
    .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    let authorize = url::Url::parse(start.json()["authorizationUrl"].as_str().unwrap()).unwrap();
    let auth_server = url::Url::parse(&f.sim.auth_server()).unwrap();
    assert_eq!(authorize.origin(), auth_server.origin());
    let res = f.app.http_client().get(authorize).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 302);
    let back = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let callback = format!("{}?{}", back.path(), back.query().unwrap());
    let r = call(&f.router, Method::GET, &callback, None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let shown = call(
        &f.router,
        Method::GET,
        &format!("/v1/connections/{id}"),
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(shown.json()["state"]["status"], "online", "{}", shown.text);
}

#[tokio::test]
async fn no_input_sends_a_request_to_another_host() {
    let f = fixture().await;
    let attacker = Attacker::start().await;
    let browser = sign_in(&f, "egress").await;
    f.sim.control().clear_requests();

    through_the_api(&f, &attacker).await;
    through_the_forms(&f, &attacker, &browser).await;
    authorization(&f).await;

    assert_eq!(
        attacker.connections.load(Ordering::SeqCst),
        0,
        "the attacker's host was contacted"
    );
    let seen = f.sim.control().requests();
    assert!(
        seen.iter().any(|r| r.path.ends_with("/oauth/token")),
        "the token exchange reached the configured server"
    );
    assert!(
        seen.iter().any(|r| r.path.ends_with("/myself")),
        "connection tests reached the configured site"
    );
    eprintln!(
        "{} requests reached the simulator, 0 the attacker",
        seen.len()
    );
}
