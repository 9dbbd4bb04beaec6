//! Signing in and out, sessions, CSRF, security headers and users' API keys.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use jiralink_app::{Actor, App, SESSION_IDLE_TIMEOUT, SIGN_IN_MAX_FAILURES};
use jiralink_domain::{AuditSource, ManualClock, ResourceKind};
use jiralink_vault::Password;
use jiralink_web::{ApiKeyHash, AppState, DemoInfo, ServerOptions, router};
use pretty_assertions::assert_eq;
use time::Duration;

use crate::{Browser, KEY, Reply, open_app, reply, test_clock};

const PASSWORD: &str = "CANARY-pass-6d1f0e2a9b";
const AUTH_SERVER: &str = "https://auth.example.test";

struct Env {
    _dir: tempfile::TempDir,
    app: App,
    clock: ManualClock,
    router: Router,
}

async fn env_with(base_url: &str, options: ServerOptions) -> Env {
    let clock = test_clock();
    let (dir, app) = open_app(
        &format!(
            "[server]\nbase_url = \"{base_url}\"\n[atlassian]\n\
             site_url_template = \"https://{{subdomain}}.atlassian.net\"\n\
             api_gateway = \"https://api.atlassian.com\"\nauth_server = \"{AUTH_SERVER}/\"\n"
        ),
        &clock,
    )
    .await;
    app.ensure_admin(Some(Password::new(PASSWORD)))
        .await
        .unwrap();
    let router = router(AppState::new(app.clone(), ApiKeyHash::of(KEY)).with_options(options));
    Env {
        _dir: dir,
        app,
        clock,
        router,
    }
}

async fn env() -> Env {
    env_with("http://127.0.0.1:8080", ServerOptions::default()).await
}

fn tester() -> Actor {
    Actor {
        name: "tester".to_owned(),
        source: AuditSource::Cli,
    }
}

/// Sends a request with optional cookies and form fields.
async fn send(
    router: &Router,
    method: Method,
    path: &str,
    cookies: &[&str],
    form: Option<&[(&str, &str)]>,
    extra: &[(&str, &str)],
) -> Reply {
    send_from(router, None, method, path, cookies, form, extra).await
}

/// [`send`] from client address `from`, recorded as `into_make_service_with_connect_info`
/// (what `jiralink serve` runs) records it; `None` is a request without one.
async fn send_from(
    router: &Router,
    from: Option<SocketAddr>,
    method: Method,
    path: &str,
    cookies: &[&str],
    form: Option<&[(&str, &str)]>,
    extra: &[(&str, &str)],
) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(addr) = from {
        req = req.extension(ConnectInfo(addr));
    }
    if !cookies.is_empty() {
        req = req.header(header::COOKIE, cookies.join("; "));
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let req = match form {
        Some(fields) => {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields.iter())
                .finish();
            req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
        }
        None => req.body(Body::empty()),
    }
    .unwrap();
    reply(router, req).await
}

/// A form POST of the signed-in browser `s`, with its CSRF token.
async fn post_form(router: &Router, s: &Browser, path: &str, fields: &[(&str, &str)]) -> Reply {
    let mut all = vec![("_csrf", s.csrf.as_str())];
    all.extend_from_slice(fields);
    send(router, Method::POST, path, &[&s.cookie], Some(&all), &[]).await
}

/// The full `Set-Cookie` header for cookie `name`.
fn set_cookie_header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// `name=value` of cookie `name` as the browser would send it back.
fn cookie_pair(headers: &HeaderMap, name: &str) -> Option<String> {
    set_cookie_header(headers, name).map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// The value of the hidden `_csrf` field of the page.
fn csrf_field(html: &str) -> String {
    let at = html
        .find("name=\"_csrf\" value=\"")
        .unwrap_or_else(|| panic!("no _csrf field in {html}"));
    let rest = &html[at + "name=\"_csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// Opens the sign-in page and posts the form, as a browser does; returns the answer.
async fn post_login(router: &Router, username: &str, password: &str, next: Option<&str>) -> Reply {
    post_login_from(router, None, username, password, next).await
}

/// [`post_login`] from client address `from`.
async fn post_login_from(
    router: &Router,
    from: Option<SocketAddr>,
    username: &str,
    password: &str,
    next: Option<&str>,
) -> Reply {
    let page = send_from(router, from, Method::GET, "/login", &[], None, &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let login_cookie = cookie_pair(&page.headers, "jiralink_login").unwrap();
    let csrf = csrf_field(&page.text);
    let mut fields = vec![
        ("_csrf", csrf.as_str()),
        ("username", username),
        ("password", password),
    ];
    if let Some(n) = next {
        fields.push(("next", n));
    }
    send_from(
        router,
        from,
        Method::POST,
        "/login",
        &[&login_cookie],
        Some(&fields),
        &[],
    )
    .await
}

/// Signs in through `/login` and reads the CSRF token from a page of the session.
pub(crate) async fn sign_in(router: &Router, username: &str, password: &str) -> Browser {
    let r = post_login(router, username, password, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let cookie = cookie_pair(&r.headers, "jiralink_session").unwrap();
    let page = send(
        router,
        Method::GET,
        "/settings/users",
        &[&cookie],
        None,
        &[],
    )
    .await;
    let csrf = if page.status == StatusCode::OK {
        csrf_field(&page.text)
    } else {
        // Not an administrator: any page of the UI carries the token.
        let page = send(router, Method::GET, "/connections", &[&cookie], None, &[]).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        csrf_field(&page.text)
    };
    Browser { cookie, csrf }
}

#[tokio::test]
async fn sign_in_sets_a_safe_cookie_and_sign_out_ends_the_session() {
    let e = env().await;
    let r = post_login(&e.router, "admin", PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.headers[header::LOCATION], "/connections");
    let set = set_cookie_header(&r.headers, "jiralink_session").unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains("Secure"), "http base URL: {set}");
    let cookie = cookie_pair(&r.headers, "jiralink_session").unwrap();
    let token = cookie.trim_start_matches("jiralink_session=").to_owned();
    assert_eq!(token.len(), 64);

    let page = send(
        &e.router,
        Method::GET,
        "/settings/users",
        &[&cookie],
        None,
        &[],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("id=\"users\"") && page.text.contains(">admin<"));
    let csrf = csrf_field(&page.text);

    // Sign out needs the CSRF token too.
    let r = send(
        &e.router,
        Method::POST,
        "/logout",
        &[&cookie],
        Some(&[]),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &e.router,
        Method::POST,
        "/logout",
        &[&cookie],
        Some(&[("_csrf", &csrf)]),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers[header::LOCATION], "/login");
    assert!(
        set_cookie_header(&r.headers, "jiralink_session")
            .unwrap()
            .contains("Max-Age=0")
    );
    let page = send(
        &e.router,
        Method::GET,
        "/settings/users",
        &[&cookie],
        None,
        &[],
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_cookie_is_secure_behind_https() {
    let e = env_with("https://jiralink.example.test", ServerOptions::default()).await;
    let r = post_login(&e.router, "admin", PASSWORD, None).await;
    let set = set_cookie_header(&r.headers, "jiralink_session").unwrap();
    assert!(set.contains("; Secure"), "{set}");
    assert_eq!(
        r.headers[header::STRICT_TRANSPORT_SECURITY],
        "max-age=31536000; includeSubDomains"
    );
    let page = send(&e.router, Method::GET, "/login", &[], None, &[]).await;
    assert!(
        set_cookie_header(&page.headers, "jiralink_login")
            .unwrap()
            .contains("; Secure")
    );
}

#[tokio::test]
async fn a_wrong_password_shows_the_form_again_without_it() {
    let e = env().await;
    let r = post_login(&e.router, "admin", "CANARY-wrong-password-71", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text.contains("class=\"form-error\""), "{}", r.text);
    assert!(r.text.contains("user name or password is wrong"));
    assert!(r.text.contains("value=\"admin\""), "the user name is kept");
    assert!(!r.text.contains("CANARY-wrong-password-71"));
    assert!(set_cookie_header(&r.headers, "jiralink_session").is_none());
    // An unknown user gets the same page and status.
    let u = post_login(&e.router, "nobody", "CANARY-wrong-password-71", None).await;
    assert_eq!(u.status, StatusCode::UNAUTHORIZED);
    assert!(u.text.contains("user name or password is wrong"));
}

#[tokio::test]
async fn the_sign_in_form_needs_its_csrf_cookie() {
    let e = env().await;
    let page = send(&e.router, Method::GET, "/login", &[], None, &[]).await;
    let set = set_cookie_header(&page.headers, "jiralink_login").unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let csrf = csrf_field(&page.text);
    let fields = [
        ("_csrf", csrf.as_str()),
        ("username", "admin"),
        ("password", PASSWORD),
    ];
    // Without the cookie (a cross-site form), with another cookie value, without the field.
    for (cookies, fields) in [
        (vec![], &fields[..]),
        (vec!["jiralink_login=0123"], &fields[..]),
        (vec![], &fields[1..]),
    ] {
        let r = send(
            &e.router,
            Method::POST,
            "/login",
            &cookies,
            Some(fields),
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert!(set_cookie_header(&r.headers, "jiralink_session").is_none());
    }
}

#[tokio::test]
async fn repeated_failures_lock_sign_in_for_the_window() {
    let e = env().await;
    for _ in 0..SIGN_IN_MAX_FAILURES {
        let r = post_login(&e.router, "admin", "wrong password here", None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = post_login(&e.router, "admin", PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text.contains("try again in 15 minute"), "{}", r.text);
    e.clock.advance(Duration::minutes(15));
    let r = post_login(&e.router, "admin", PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
}

#[tokio::test]
async fn sign_in_is_locked_per_client_address() {
    let e = env().await;
    let a = SocketAddr::from(([192, 0, 2, 10], 50_001));
    let b = SocketAddr::from(([198, 51, 100, 20], 50_002));
    for _ in 0..SIGN_IN_MAX_FAILURES {
        let r = post_login_from(&e.router, Some(a), "admin", "wrong password here", None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
    // The address counts, not the connection: A's next connection has another port.
    let a_again = SocketAddr::from(([192, 0, 2, 10], 61_234));
    let r = post_login_from(&e.router, Some(a_again), "admin", PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.text.contains("try again in 15 minute"), "{}", r.text);
    assert!(set_cookie_header(&r.headers, "jiralink_session").is_none());

    let r = post_login_from(&e.router, Some(b), "admin", PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(set_cookie_header(&r.headers, "jiralink_session").is_some());
    // B signing in does not lift A's lock; the window does.
    let r = post_login_from(&e.router, Some(a), "admin", PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    e.clock.advance(Duration::minutes(15));
    let r = post_login_from(&e.router, Some(a), "admin", PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
}

/// One HTTP/1.1 exchange over a fresh TCP connection: the status, the `Set-Cookie` values
/// and the body.
async fn http_exchange(
    server: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&[(&str, &str)]>,
) -> (u16, Vec<String>, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let body = form.map_or_else(String::new, |fields| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter())
            .finish()
    });
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n");
    if let Some(c) = cookie {
        head.push_str(&format!("Cookie: {c}\r\n"));
    }
    if form.is_some() {
        head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    let mut stream = tokio::net::TcpStream::connect(server).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap();
    let status = headers[9..12].parse().unwrap();
    let cookies = headers
        .lines()
        .filter_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie")
                .then(|| value.trim().to_owned())
        })
        .collect();
    (status, cookies, body.to_owned())
}

/// Signs in over real TCP to `server`, as a browser does; returns the status of the post.
async fn tcp_login(server: SocketAddr, password: &str) -> u16 {
    let (status, cookies, page) = http_exchange(server, "GET", "/login", None, None).await;
    assert_eq!(status, 200, "{page}");
    let login_cookie = cookies
        .iter()
        .find(|c| c.starts_with("jiralink_login="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .unwrap();
    let csrf = csrf_field(&page);
    let fields = [
        ("_csrf", csrf.as_str()),
        ("username", "admin"),
        ("password", password),
    ];
    let (status, _, _) =
        http_exchange(server, "POST", "/login", Some(&login_cookie), Some(&fields)).await;
    status
}

#[tokio::test]
async fn the_served_router_throttles_the_connecting_address() {
    let e = env().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    let service = e.router.clone();
    let serving = tokio::spawn(async move {
        // Exactly as `jiralink serve` runs the router.
        axum::serve(
            listener,
            service.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    for _ in 0..SIGN_IN_MAX_FAILURES {
        assert_eq!(tcp_login(server, "wrong password here").await, 401);
    }
    assert_eq!(tcp_login(server, PASSWORD).await, 429);
    // The lock is on 127.0.0.1, the address the connections came from, as the address the
    // per-address test hands in: not on a shared "unknown" client.
    let loopback = SocketAddr::from(([127, 0, 0, 1], 1));
    let r = post_login_from(&e.router, Some(loopback), "admin", PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    let elsewhere = SocketAddr::from(([192, 0, 2, 10], 1));
    let r = post_login_from(&e.router, Some(elsewhere), "admin", PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = post_login(&e.router, "admin", PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    serving.abort();
}

/// Many wrong passwords for one account from one client, all at once over real TCP to the
/// router as `jiralink serve` runs it: exactly the documented limit is checked (401), every
/// other attempt is refused (429) without its password being looked at, and then the right
/// password is refused too. `JIRALINK_PROOF_LONG=1` sends 500 instead of 50.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_passwords_are_held_to_the_limit() {
    let attempts: usize = if std::env::var("JIRALINK_PROOF_LONG").as_deref() == Ok("1") {
        500
    } else {
        50
    };
    let e = env().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    let service = e.router.clone();
    let serving = tokio::spawn(async move {
        axum::serve(
            listener,
            service.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..attempts)
        .map(|i| {
            tokio::spawn(async move { tcp_login(server, &format!("wrong password {i}")).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (checked, throttled),
        (SIGN_IN_MAX_FAILURES, attempts - SIGN_IN_MAX_FAILURES),
        "{statuses:?}"
    );
    assert_eq!(tcp_login(server, PASSWORD).await, 429);
    eprintln!(
        "{attempts} concurrent wrong passwords: {checked} checked, {throttled} refused with 429, \
         in {:?}",
        started.elapsed()
    );
    serving.abort();
}

#[tokio::test]
async fn sessions_expire_when_idle() {
    let e = env().await;
    let s = sign_in(&e.router, "admin", PASSWORD).await;
    e.clock.advance(SESSION_IDLE_TIMEOUT - Duration::minutes(1));
    let r = send(
        &e.router,
        Method::GET,
        "/settings/users",
        &[&s.cookie],
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    e.clock.advance(SESSION_IDLE_TIMEOUT);
    let r = send(
        &e.router,
        Method::GET,
        "/settings/users",
        &[&s.cookie],
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers[header::LOCATION],
        "/login?next=%2Fsettings%2Fusers"
    );
}

#[tokio::test]
async fn pages_without_a_session_redirect_to_sign_in_with_next() {
    let e = env().await;
    let r = send(
        &e.router,
        Method::GET,
        "/settings/users?x=1",
        &[],
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers[header::LOCATION],
        "/login?next=%2Fsettings%2Fusers%3Fx%3D1"
    );
    // Other methods get 401; a forged cookie is no session.
    let r = send(
        &e.router,
        Method::POST,
        "/settings/users",
        &["jiralink_session=forged"],
        Some(&[("_csrf", "x")]),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // The sign-in page carries next on, and signing in follows it.
    let page = send(
        &e.router,
        Method::GET,
        "/login?next=%2Fsettings%2Fusers",
        &[],
        None,
        &[],
    )
    .await;
    assert!(
        page.text
            .contains("name=\"next\" value=\"/settings/users\"")
    );
    let r = post_login(&e.router, "admin", PASSWORD, Some("/settings/users")).await;
    assert_eq!(r.headers[header::LOCATION], "/settings/users");
}

#[tokio::test]
async fn next_never_leads_off_site() {
    let e = env().await;
    for evil in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
    ] {
        let r = post_login(&e.router, "admin", PASSWORD, Some(evil)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{evil}");
        assert_eq!(r.headers[header::LOCATION], "/connections", "{evil}");
        let page = send(
            &e.router,
            Method::GET,
            &format!(
                "/login?next={}",
                url::form_urlencoded::byte_serialize(evil.as_bytes()).collect::<String>()
            ),
            &[],
            None,
            &[],
        )
        .await;
        assert!(!page.text.contains("evil.example"), "{evil}");
    }
}

#[tokio::test]
async fn unsafe_requests_need_the_csrf_token() {
    let e = env().await;
    let s = sign_in(&e.router, "admin", PASSWORD).await;
    let add = [("username", "bob"), ("password", "a long enough password")];
    // Missing, then wrong.
    let r = send(
        &e.router,
        Method::POST,
        "/settings/users",
        &[&s.cookie],
        Some(&add),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let mut wrong = vec![("_csrf", "0".repeat(64))];
    wrong.extend(add.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = send(
        &e.router,
        Method::POST,
        "/settings/users",
        &[&s.cookie],
        Some(&wrong),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &e.router,
        Method::POST,
        "/settings/users",
        &[&s.cookie],
        Some(&add),
        &[("x-csrf-token", "wrong")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(e.app.find_user("bob").await.is_err());
    // Right, in the form and in the header.
    let mut ok = vec![("_csrf", s.csrf.as_str())];
    ok.extend_from_slice(&add);
    let r = send(
        &e.router,
        Method::POST,
        "/settings/users",
        &[&s.cookie],
        Some(&ok),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let bob = e.app.find_user("bob").await.unwrap();
    assert!(!bob.is_admin);
    let r = send(
        &e.router,
        Method::POST,
        &format!("/settings/users/{}/delete", bob.id),
        &[&s.cookie],
        Some(&[]),
        &[("x-csrf-token", &s.csrf)],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(e.app.find_user("bob").await.is_err());
    // The audit log names the signed-in user and the UI.
    let entries = e
        .app
        .store()
        .list_audit(ResourceKind::User, bob.id)
        .await
        .unwrap();
    assert_eq!(entries.len(), 2);
    assert!(
        entries
            .iter()
            .all(|a| a.actor == "admin" && a.source == AuditSource::Ui)
    );
}

#[tokio::test]
async fn user_management_is_for_administrators() {
    let e = env().await;
    e.app
        .create_user("carol", &Password::new(PASSWORD), false, &tester())
        .await
        .unwrap();
    let s = sign_in(&e.router, "carol", PASSWORD).await;
    let r = send(
        &e.router,
        Method::GET,
        "/settings/users",
        &[&s.cookie],
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post_form(
        &e.router,
        &s,
        "/settings/users",
        &[
            ("username", "mallory"),
            ("password", "a long enough password"),
            ("is_admin", "on"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(e.app.find_user("mallory").await.is_err());
}

#[tokio::test]
async fn form_errors_keep_the_input_but_not_the_password() {
    let e = env().await;
    let s = sign_in(&e.router, "admin", PASSWORD).await;
    let r = post_form(
        &e.router,
        &s,
        "/settings/users",
        &[
            ("username", "dora"),
            ("password", "CANARY-shrt"),
            ("is_admin", "on"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("at least 12 characters"), "{}", r.text);
    assert!(r.text.contains("value=\"dora\""));
    assert!(!r.text.contains("CANARY-shrt"));
    // The last administrator cannot be deleted.
    let admin = e.app.find_user("admin").await.unwrap();
    let r = send(
        &e.router,
        Method::POST,
        &format!("/settings/users/{}/delete", admin.id),
        &[&s.cookie],
        Some(&[("_csrf", &s.csrf)]),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.text.contains("last administrator"));
}

#[tokio::test]
async fn users_api_keys_open_v1_until_revoked() {
    let e = env().await;
    let s = sign_in(&e.router, "admin", PASSWORD).await;
    let r = post_form(
        &e.router,
        &s,
        "/settings/api-keys",
        &[("user", "admin"), ("name", "nightly export")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let at = r.text.find("id=\"new-api-key\">").unwrap() + "id=\"new-api-key\">".len();
    let key = r.text[at..at + 68].to_owned();
    assert!(key.starts_with("jlk_"), "{key}");
    // Shown once: the page afterwards has its prefix only.
    let page = send(
        &e.router,
        Method::GET,
        "/settings/users",
        &[&s.cookie],
        None,
        &[],
    )
    .await;
    assert!(page.text.contains(&key[..12]) && !page.text.contains(&key[12..]));

    let bearer = format!("Bearer {key}");
    let r = send(
        &e.router,
        Method::GET,
        "/v1/connections",
        &[],
        None,
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The server's own key works too; a wrong one does not.
    let r = send(
        &e.router,
        Method::GET,
        "/v1/connections",
        &[],
        None,
        &[("authorization", &format!("Bearer {KEY}"))],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        &e.router,
        Method::GET,
        "/v1/connections",
        &[],
        None,
        &[("authorization", "Bearer jlk_0000")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let keys = e.app.list_api_keys(None).await.unwrap();
    let r = send(
        &e.router,
        Method::POST,
        &format!("/settings/api-keys/{}/revoke", keys[0].id),
        &[&s.cookie],
        Some(&[("_csrf", &s.csrf)]),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = send(
        &e.router,
        Method::GET,
        "/v1/connections",
        &[],
        None,
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(!r.text.contains(&key));
}

#[tokio::test]
async fn every_response_has_the_security_headers() {
    let e = env().await;
    for path in ["/login", "/healthz", "/settings/users", "/v1/connections"] {
        let r = send(&e.router, Method::GET, path, &[], None, &[]).await;
        let h = &r.headers;
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        assert!(
            csp.contains(&format!("form-action 'self' {AUTH_SERVER}")),
            "{path}: {csp}"
        );
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{path}");
        assert_eq!(h[header::REFERRER_POLICY], "same-origin", "{path}");
        assert_eq!(h["cross-origin-opener-policy"], "same-origin", "{path}");
        assert!(h.contains_key("permissions-policy"), "{path}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert!(!h.contains_key(header::STRICT_TRANSPORT_SECURITY), "{path}");
    }
    // The OAuth callback keeps its own, stricter referrer policy.
    let r = send(
        &e.router,
        Method::GET,
        "/connection/oauth2callback?state=x&code=y",
        &[],
        None,
        &[],
    )
    .await;
    assert_eq!(r.headers[header::REFERRER_POLICY], "no-referrer");
    // And its own policy, which allows nothing to load.
    let csp = r.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
}

#[tokio::test]
async fn the_demo_box_shows_sample_credentials() {
    let demo = DemoInfo {
        site_url: "http://127.0.0.1:9/site/demo".to_owned(),
        subdomain: "demo".to_owned(),
        email: "demo@example.com".to_owned(),
        api_token: "demo-token".to_owned(),
        oauth_client_name: Some("Demo app".to_owned()),
        client_id: "demo-client".to_owned(),
        client_secret: "demo-secret".to_owned(),
        admin_username: "admin".to_owned(),
        admin_password: "demo-admin-pw".to_owned(),
    };
    let e = env_with(
        "http://127.0.0.1:8080",
        ServerOptions {
            demo: Some(demo),
            metrics: None,
        },
    )
    .await;
    let page = send(&e.router, Method::GET, "/login", &[], None, &[]).await;
    for (key, value) in [
        ("site", "http://127.0.0.1:9/site/demo"),
        ("subdomain", "demo"),
        ("email", "demo@example.com"),
        ("api-token", "demo-token"),
        ("oauth-client-name", "Demo app"),
        ("client-id", "demo-client"),
        ("client-secret", "demo-secret"),
        ("admin-username", "admin"),
        ("admin-password", "demo-admin-pw"),
    ] {
        assert!(
            page.text.contains(&format!("data-demo=\"{key}\">{value}<")),
            "{key}: {}",
            page.text
        );
    }
    assert!(page.text.contains("id=\"demo-credentials\""));
    let plain = env().await;
    let page = send(&plain.router, Method::GET, "/login", &[], None, &[]).await;
    assert!(!page.text.contains("demo-credentials"));
    assert!(page.text.contains("id=\"login-form\"") && page.text.contains("id=\"sign-in\""));
}

#[tokio::test]
async fn secrets_stay_out_of_the_database_and_responses() {
    let e = env().await;
    let r = post_login(&e.router, "admin", PASSWORD, None).await;
    assert!(!r.text.contains(PASSWORD));
    let cookie = cookie_pair(&r.headers, "jiralink_session").unwrap();
    let token = cookie.trim_start_matches("jiralink_session=").to_owned();
    let page = send(
        &e.router,
        Method::GET,
        "/settings/users",
        &[&cookie],
        None,
        &[],
    )
    .await;
    assert!(!page.text.contains(&token));
    let created = e.app.create_api_key("admin", "k", &tester()).await.unwrap();
    let key = created.key.expose().to_owned();
    let page = send(
        &e.router,
        Method::GET,
        "/settings/users",
        &[&cookie],
        None,
        &[],
    )
    .await;
    assert!(!page.text.contains(&key));
    let dir = e._dir.path().to_path_buf();
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            bytes.extend(std::fs::read(path).unwrap());
        }
    }
    for secret in [PASSWORD, token.as_str(), key.as_str()] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a secret is stored in plaintext"
        );
    }
}

/// Collects every log line written while it is the default subscriber.
#[derive(Clone, Default)]
struct LogSink(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log of the whole test binary, captured by a process-wide subscriber: a thread-local
/// one can miss events whose callsites other test threads registered first.
fn captured_logs() -> LogSink {
    static SINK: std::sync::OnceLock<LogSink> = std::sync::OnceLock::new();
    SINK.get_or_init(|| {
        let sink = LogSink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "jiralink_app=trace,jiralink_web=trace,jiralink_store=trace",
            ))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other test installs a global subscriber");
        sink
    })
    .clone()
}

#[tokio::test]
async fn secrets_stay_out_of_the_logs() {
    let sink = captured_logs();
    let e = env().await;
    post_login(&e.router, "admin", "CANARY-wrong-pw-a8c3e1", None).await;
    let s = sign_in(&e.router, "admin", PASSWORD).await;
    let token = s.cookie.trim_start_matches("jiralink_session=").to_owned();
    let r = post_form(
        &e.router,
        &s,
        "/settings/api-keys",
        &[("user", "admin"), ("name", "k")],
    )
    .await;
    let at = r.text.find("id=\"new-api-key\">").unwrap() + "id=\"new-api-key\">".len();
    let key = r.text[at..at + 68].to_owned();
    send(
        &e.router,
        Method::GET,
        "/v1/connections",
        &[],
        None,
        &[("authorization", &format!("Bearer {key}"))],
    )
    .await;
    post_form(&e.router, &s, "/logout", &[]).await;
    let logs = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("signed in"), "the capture works: {logs}");
    for secret in [PASSWORD, "CANARY-wrong-pw-a8c3e1", &token, &key, &s.csrf] {
        assert!(!logs.contains(secret), "a secret is in the logs: {logs}");
    }
}

#[tokio::test]
async fn every_settings_route_needs_a_session_and_the_csrf_token() {
    let e = env().await;
    let s = sign_in(&e.router, "admin", PASSWORD).await;
    let admin = e.app.find_user("admin").await.unwrap();
    let id = admin.id.to_string();
    let posts = [
        "/settings/users".to_owned(),
        format!("/settings/users/{id}/delete"),
        "/settings/api-keys".to_owned(),
        format!("/settings/api-keys/{id}/revoke"),
    ];
    let r = send(&e.router, Method::GET, "/settings/users", &[], None, &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    for path in &posts {
        let r = send(
            &e.router,
            Method::POST,
            path,
            &[],
            Some(&[("_csrf", &s.csrf)]),
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        let r = send(&e.router, Method::POST, path, &[&s.cookie], Some(&[]), &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        // Not a form and no header: refused too.
        let r = send(&e.router, Method::POST, path, &[&s.cookie], None, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(e.app.list_users().await.unwrap().len(), 1);
}
