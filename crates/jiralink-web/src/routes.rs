//! Every route of the server in one table: method, path, how it is guarded, and handler.
//!
//! The router is built from [`table`] and only from it: [`router`] is the one place that calls
//! `Router::route` (a test fails when another source file of this crate does), and it puts each
//! route behind the guard of its class. The test that every route refuses a request without
//! credentials walks the same table, and a [`Guard::Public`] route fails it unless the test
//! names it too, with what guards it instead. So a route added later is guarded, and tested,
//! by being added.

use axum::Router;
use axum::http::Method;
use axum::routing::{MethodRouter, get};

use crate::AppState;

/// How a route is guarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guard {
    /// A session cookie ([`crate::session::require_session`]): without one a GET goes to
    /// the sign-in page and anything else gets 401; unsafe methods also need the session's
    /// CSRF token and, when the browser names one, this server's origin.
    Session,
    /// A bearer API key, the server's or a user's ([`crate::api::require_api_key`]); a session
    /// cookie opens nothing here.
    ApiKey,
    /// No credentials; the text says what guards the route instead.
    Public(&'static str),
}

/// One route of the table.
pub(crate) struct Route {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) guard: Guard,
    handler: MethodRouter<AppState>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

/// A module's routes: method, path and handler; [`table`] gives them their guard.
pub(crate) type RouteTable = Vec<(Method, &'static str, MethodRouter<AppState>)>;

fn with_guard(table: RouteTable, guard: Guard, prefix: &str) -> impl Iterator<Item = Route> {
    table.into_iter().map(move |(method, path, handler)| Route {
        method,
        path: format!("{prefix}{path}"),
        guard,
        handler,
    })
}

fn public(method: Method, path: &str, why: &'static str, handler: MethodRouter<AppState>) -> Route {
    Route {
        method,
        path: path.to_owned(),
        guard: Guard::Public(why),
        handler,
    }
}

/// Every route of the server.
pub(crate) fn table() -> Vec<Route> {
    let mut routes = vec![
        public(
            Method::GET,
            "/healthz",
            "liveness for load balancers: a constant answer, no data",
            get(crate::healthz),
        ),
        public(
            Method::GET,
            "/readyz",
            "readiness for load balancers: whether the database answers, nothing else",
            get(crate::readyz),
        ),
        public(
            Method::GET,
            "/static/{name}",
            "the stylesheet and scripts compiled into jiralink, no data",
            crate::ui::assets::handler(),
        ),
        public(
            Method::GET,
            &format!("/{}", jiralink_domain::oauth_client::CALLBACK_PATH),
            "Atlassian's redirect back: the single-use state of an authorization a key holder or \
             a signed-in user started guards it",
            crate::oauth::handler(),
        ),
        public(
            Method::POST,
            "/hooks/jira/{token}",
            "Jira's webhook deliveries: each is verified by its JWT or X-Hub-Signature",
            crate::hooks::handler(),
        ),
        Route {
            method: Method::GET,
            path: "/metrics".to_owned(),
            guard: Guard::ApiKey,
            handler: get(crate::metrics::scrape),
        },
    ];
    routes.extend(with_guard(
        crate::session::table(),
        Guard::Public(
            "signing in and out: a double-submit CSRF cookie guards the sign-in form, which is \
             throttled; signing out ends only the session presented, with its CSRF token",
        ),
        "",
    ));
    routes.extend(
        crate::ui::tables()
            .into_iter()
            .flat_map(|t| with_guard(t, Guard::Session, "")),
    );
    routes.extend(with_guard(crate::api::table(), Guard::ApiKey, "/v1"));
    routes
}

/// The router of every route in [`table`], each behind the guard of its class.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    let mut pages = Router::new();
    let mut api = Router::new();
    let mut keyed = Router::new();
    let mut open = Router::new();
    // Routes sharing a path merge their methods.
    for Route {
        path,
        guard,
        handler,
        ..
    } in table()
    {
        match guard {
            Guard::Session => pages = pages.route(&path, handler),
            Guard::ApiKey => match path.strip_prefix("/v1") {
                Some(relative) => api = api.route(relative, handler),
                None => keyed = keyed.route(&path, handler),
            },
            Guard::Public(_) => open = open.route(&path, handler),
        }
    }
    let keyed = keyed.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        crate::api::require_api_key,
    ));
    open.merge(crate::ui::guard(pages, state.clone()))
        .merge(keyed)
        .nest("/v1", crate::api::guard(api, state.clone()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{HeaderValue, Request, StatusCode, header};
    use jiralink_app::{Actor, App, OpenOptions, SESSION_IDLE_TIMEOUT};
    use jiralink_domain::{AuditSource, ManualClock};
    use jiralink_vault::Password;
    use tower::ServiceExt as _;

    use super::*;
    use crate::ApiKeyHash;

    /// The public routes, each with what guards it instead of credentials. A public route
    /// missing here, or named here but no longer public, fails the test.
    const PUBLIC: &[(&str, &str)] = &[
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/static/{name}"),
        // The single-use state (checked below: no state, an unknown one).
        ("GET", "/connection/oauth2callback"),
        // The delivery's signature (checked below: none, a wrong one).
        ("POST", "/hooks/jira/{token}"),
        // The double-submit cookie and the throttle (checked below: no cookie).
        ("GET", "/login"),
        ("POST", "/login"),
        // Ends only the session presented (checked below: nothing without one).
        ("POST", "/logout"),
    ];

    const SERVER_KEY: &str = "jlk_server_key_for_the_route_test_0123";
    const BASE: &str = "http://127.0.0.1:8080";

    struct Reply {
        status: StatusCode,
        location: Option<String>,
        content_type: Option<String>,
        body: String,
    }

    #[derive(Default, Clone, Copy)]
    struct Creds<'a> {
        cookie: Option<&'a str>,
        csrf: Option<&'a str>,
        authorization: Option<&'a str>,
        origin: Option<&'a str>,
    }

    async fn send(router: &Router, method: &Method, path: &str, creds: Creds<'_>) -> Reply {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(header::HOST, "127.0.0.1:8080")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = creds.cookie {
            req = req.header(header::COOKIE, c);
        }
        if let Some(a) = creds.authorization {
            req = req.header(header::AUTHORIZATION, a);
        }
        if let Some(o) = creds.origin {
            req = req.header(header::ORIGIN, o);
        }
        let body = creds.csrf.map(|t| format!("_csrf={t}")).unwrap_or_default();
        let res = router
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let text = |name| {
            res.headers()
                .get(name)
                .map(|v: &HeaderValue| v.to_str().unwrap().to_owned())
        };
        let (status, location, content_type) = (
            res.status(),
            text(header::LOCATION),
            text(header::CONTENT_TYPE),
        );
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        Reply {
            status,
            location,
            content_type,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    fn concrete(path: &str) -> String {
        path.replace("{id}", "00000000-0000-4000-8000-000000000000")
            .replace("{token}", "0123456789abcdef0123456789abcdef")
            .replace("{name}", "app.css")
    }

    fn is_safe(method: &Method) -> bool {
        matches!(*method, Method::GET | Method::HEAD)
    }

    /// What a request without (valid) credentials must get: the sign-in page for a page GET,
    /// 401 otherwise.
    fn assert_refused(r: &Reply, guard: Guard, method: &Method, path: &str, who: &str) {
        if guard == Guard::Session && is_safe(method) {
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{who}: {method} {path}");
            let to = r.location.as_deref().unwrap_or_default();
            assert!(to.starts_with("/login"), "{who}: {method} {path}: {to}");
        } else {
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{who}: {method} {path}");
        }
    }

    /// A handler answered: not the router's empty 404/405, nor the API's fallbacks.
    fn assert_routed(r: &Reply, method: &Method, path: &str) {
        let unrouted = matches!(
            r.status,
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
        ) && (r.content_type.is_none()
            || r.body.contains("\"code\":\"not_found\"")
            || r.body.contains("\"code\":\"method_not_allowed\""));
        assert!(!unrouted, "{method} {path}: {} {}", r.status, r.body);
        assert_ne!(r.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_ne!(r.status, StatusCode::FORBIDDEN, "{method} {path}");
    }

    #[test]
    fn only_this_file_adds_routes() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut pending = vec![src];
        let mut offenders = Vec::new();
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("src/routes.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for call in [".route(", ".route_service(", ".nest(", ".nest_service("] {
                        if text.contains(call) {
                            offenders.push(format!("{} calls {call}", path.display()));
                        }
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "{offenders:#?}");
    }

    /// The most of a request body a route may read: the server-wide limit, or the route's own.
    fn body_limit(route: &Route) -> u64 {
        let own = match route.path.as_str() {
            "/hooks/jira/{token}" => jiralink_app::MAX_DELIVERY_BYTES,
            // Streamed to a file in the data directory, not held in memory.
            "/v1/imports/{id}/run" => return crate::MAX_RECORDS_BYTES,
            "/imports/{id}/preview" | "/imports/{id}/run" => {
                crate::ui::multipart::MAX_UPLOAD_BODY_BYTES
            }
            _ => crate::MAX_BODY_BYTES,
        };
        own as u64
    }

    /// A request body of `total` bytes in 64 KiB pieces that counts the pieces read.
    fn counted_body(total: u64, pulled: Arc<std::sync::atomic::AtomicU64>) -> Body {
        const PIECE: u64 = 64 * 1024;
        let stream = futures::stream::unfold(0u64, move |sent| {
            let pulled = Arc::clone(&pulled);
            async move {
                if sent >= total {
                    return None;
                }
                pulled.fetch_add(PIECE, std::sync::atomic::Ordering::SeqCst);
                Some((Ok::<_, std::io::Error>(vec![b'a'; 64 * 1024]), sent + PIECE))
            }
        });
        Body::from_stream(stream)
    }

    #[tokio::test]
    async fn no_route_reads_more_of_a_body_than_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(time::macros::datetime!(2026-01-02 03:04:05 UTC));
        let app = App::open(OpenOptions {
            data_dir: dir.path().to_path_buf(),
            config_file: None,
            database: None,
            clock: Arc::new(clock),
            env: Box::new(|_| None),
        })
        .await
        .unwrap()
        .value;
        let actor = Actor {
            name: "setup".to_owned(),
            source: AuditSource::Cli,
        };
        let password = Password::from("correct horse battery staple 42");
        app.create_user("ada", &password, true, &actor)
            .await
            .unwrap();
        let session = app.sign_in("ada", &password, "127.0.0.1").await.unwrap();
        let router = crate::router(AppState::new(app, ApiKeyHash::of(SERVER_KEY)));
        let cookie = format!("jiralink_session={}", session.token.expose());
        let mut checked = 0;
        for route in table() {
            if matches!(route.method, Method::GET | Method::HEAD) {
                continue;
            }
            let limit = body_limit(&route);
            let path = concrete(&route.path);
            let pulled = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let mut req = Request::builder()
                .method(route.method.clone())
                .uri(&path)
                .header(header::HOST, "127.0.0.1:8080");
            req = match route.guard {
                Guard::Session => req
                    .header(header::COOKIE, &cookie)
                    .header(crate::session::CSRF_HEADER, &session.csrf_token)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
                Guard::ApiKey => req
                    .header(header::AUTHORIZATION, format!("Bearer {SERVER_KEY}"))
                    .header(header::CONTENT_TYPE, "application/json"),
                Guard::Public(_) => {
                    req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                }
            };
            let body = counted_body(limit + 4 * 64 * 1024, Arc::clone(&pulled));
            let res = router
                .clone()
                .oneshot(req.body(body).unwrap())
                .await
                .unwrap();
            let status = res.status();
            let read = pulled.load(std::sync::atomic::Ordering::SeqCst);
            assert!(
                read <= limit + 64 * 1024,
                "{} {path} read {read} bytes of a body, its limit is {limit}",
                route.method
            );
            assert!(
                !status.is_server_error(),
                "{} {path}: {status}",
                route.method
            );
            if read > limit {
                assert_eq!(
                    status,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "{} {path} read past its limit",
                    route.method
                );
            }
            checked += 1;
        }
        assert!(checked > 60, "{checked}");
    }

    #[tokio::test]
    async fn every_route_refuses_strangers_and_unsafe_pages_need_csrf_and_origin() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("jiralink.toml"),
            format!("version = 1\n[server]\nbase_url = \"{BASE}\"\n"),
        )
        .unwrap();
        let clock = ManualClock::new(time::macros::datetime!(2026-01-02 03:04:05 UTC));
        let app = App::open(OpenOptions {
            data_dir: dir.path().to_path_buf(),
            config_file: None,
            database: None,
            clock: Arc::new(clock.clone()),
            env: Box::new(|_| None),
        })
        .await
        .unwrap()
        .value;
        let actor = Actor {
            name: "setup".to_owned(),
            source: AuditSource::Cli,
        };
        let password = Password::from("correct horse battery staple 42");
        app.create_user("ada", &password, true, &actor)
            .await
            .unwrap();
        // An idle session, then a signed-out one, then the valid one.
        let idle = app.sign_in("ada", &password, "127.0.0.1").await.unwrap();
        clock.advance(SESSION_IDLE_TIMEOUT + time::Duration::minutes(1));
        let signed_out = app.sign_in("ada", &password, "127.0.0.1").await.unwrap();
        app.sign_out(&signed_out.token).await.unwrap();
        let session = app.sign_in("ada", &password, "127.0.0.1").await.unwrap();
        let revoked = app.create_api_key("ada", "gone", &actor).await.unwrap();
        app.revoke_api_key(&revoked.view.id.to_string(), &actor)
            .await
            .unwrap();
        let user_key = app.create_api_key("ada", "kept", &actor).await.unwrap();
        let router = crate::router(AppState::new(app, ApiKeyHash::of(SERVER_KEY)));

        let cookie = format!("jiralink_session={}", session.token.expose());
        let idle_cookie = format!("jiralink_session={}", idle.token.expose());
        let out_cookie = format!("jiralink_session={}", signed_out.token.expose());
        let revoked_key = format!("Bearer {}", revoked.key.expose());
        let user_key = format!("Bearer {}", user_key.key.expose());
        let server_key = format!("Bearer {SERVER_KEY}");
        let strangers: Vec<(&str, Creds<'_>)> = vec![
            ("nothing", Creds::default()),
            (
                "a forged cookie",
                Creds {
                    cookie: Some("jiralink_session=forged"),
                    ..Creds::default()
                },
            ),
            (
                "an idle session",
                Creds {
                    cookie: Some(&idle_cookie),
                    csrf: Some(&idle.csrf_token),
                    ..Creds::default()
                },
            ),
            (
                "a signed-out session",
                Creds {
                    cookie: Some(&out_cookie),
                    csrf: Some(&signed_out.csrf_token),
                    ..Creds::default()
                },
            ),
            (
                "a wrong key",
                Creds {
                    authorization: Some("Bearer jlk_not_a_key"),
                    ..Creds::default()
                },
            ),
            (
                "a revoked key",
                Creds {
                    authorization: Some(&revoked_key),
                    ..Creds::default()
                },
            ),
            (
                "the key as Basic",
                Creds {
                    authorization: Some("Basic amxrOnNlcnZlcg=="),
                    ..Creds::default()
                },
            ),
        ];
        let signed_in = Creds {
            cookie: Some(&cookie),
            csrf: Some(&session.csrf_token),
            ..Creds::default()
        };

        let routes = table();
        let mut public = BTreeSet::new();
        let (mut pages, mut keyed) = (0, 0);
        for route in &routes {
            let (method, path) = (&route.method, concrete(&route.path));
            match route.guard {
                Guard::Public(why) => {
                    assert!(why.len() > 20, "{method} {}: say why", route.path);
                    assert!(
                        PUBLIC.contains(&(method.as_str(), route.path.as_str())),
                        "{method} {} is public but not in the reasoned list",
                        route.path
                    );
                    public.insert((method.as_str().to_owned(), route.path.clone()));
                    continue;
                }
                Guard::Session => pages += 1,
                Guard::ApiKey => keyed += 1,
            }
            for (who, creds) in &strangers {
                let r = send(&router, method, &path, *creds).await;
                assert_refused(&r, route.guard, method, &path, who);
            }
            match route.guard {
                Guard::Session => {
                    // No key opens a page.
                    let r = send(
                        &router,
                        method,
                        &path,
                        Creds {
                            authorization: Some(&server_key),
                            ..Creds::default()
                        },
                    )
                    .await;
                    assert_refused(&r, route.guard, method, &path, "the server key");
                    if !is_safe(method) {
                        for (what, creds) in [
                            (
                                "no token",
                                Creds {
                                    csrf: None,
                                    ..signed_in
                                },
                            ),
                            (
                                "a wrong token",
                                Creds {
                                    csrf: Some("0"),
                                    ..signed_in
                                },
                            ),
                            (
                                "another origin",
                                Creds {
                                    origin: Some("https://evil.example"),
                                    ..signed_in
                                },
                            ),
                            (
                                "a sibling port",
                                Creds {
                                    origin: Some("http://127.0.0.1:8081"),
                                    ..signed_in
                                },
                            ),
                            (
                                "an opaque origin",
                                Creds {
                                    origin: Some("null"),
                                    ..signed_in
                                },
                            ),
                        ] {
                            let r = send(&router, method, &path, creds).await;
                            assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: {method} {path}");
                        }
                    }
                    let same_origin = Creds {
                        origin: Some(BASE),
                        ..signed_in
                    };
                    assert_routed(
                        &send(&router, method, &path, same_origin).await,
                        method,
                        &path,
                    );
                }
                Guard::ApiKey => {
                    // A session (with its token) opens no API route.
                    let r = send(&router, method, &path, signed_in).await;
                    assert_refused(&r, route.guard, method, &path, "a session");
                    for key in [&server_key, &user_key] {
                        let creds = Creds {
                            authorization: Some(key),
                            ..Creds::default()
                        };
                        let r = send(&router, method, &path, creds).await;
                        if route.path == "/metrics" {
                            // Routed; this server was started without a metrics recorder.
                            assert_ne!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
                        } else {
                            assert_routed(&r, method, &path);
                        }
                    }
                }
                Guard::Public(_) => unreachable!(),
            }
        }
        let listed: BTreeSet<(String, String)> = PUBLIC
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        assert_eq!(public, listed, "every listed public route is still public");
        assert!(
            pages > 60 && keyed > 60,
            "{pages} pages, {keyed} API routes"
        );

        // What guards the public routes instead.
        let get = Method::GET;
        let post = Method::POST;
        let none = Creds::default();
        let r = send(&router, &get, "/connection/oauth2callback", none).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "no state");
        let r = send(
            &router,
            &get,
            "/connection/oauth2callback?code=c&state=0123456789abcdef0123456789abcdef",
            none,
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "an unknown state");
        let hook = concrete("/hooks/jira/{token}");
        let r = send(&router, &post, &hook, none).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
        let r = send(&router, &post, "/login", none).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "no double-submit cookie");
        let r = send(&router, &post, "/logout", none).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let r = send(&router, &get, "/static/app.css", none).await;
        assert_eq!(r.status, StatusCode::OK);
        let r = send(&router, &get, "/static/nothing.css", none).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        // Signing out needs the session's token and origin too; the session survives both.
        for creds in [
            Creds {
                csrf: None,
                ..signed_in
            },
            Creds {
                origin: Some("https://evil.example"),
                ..signed_in
            },
        ] {
            let r = send(&router, &post, "/logout", creds).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN);
        }
        let r = send(&router, &get, "/connections", signed_in).await;
        assert_eq!(r.status, StatusCode::OK, "still signed in");
    }
}
