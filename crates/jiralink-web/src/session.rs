//! Signing in: sessions, CSRF, the sign-in page and who an API key is. The users and API keys
//! page is [`crate::ui`]'s, like every other page.
//!
//! - The session cookie `jiralink_session` holds a 256-bit token (only its SHA-256 is stored);
//!   HttpOnly, `SameSite=Lax` so Atlassian's redirect back to the OAuth callback carries it,
//!   `Path=/`, and `Secure` when the public base URL is https.
//! - Every unsafe request of a session (POST, PUT, PATCH, DELETE) carries the session's CSRF
//!   token, in the `X-CSRF-Token` header or the `_csrf` field of a form, compared in constant
//!   time. `SameSite=Lax` alone would still let a sibling subdomain post forms. When the
//!   browser names the page's `Origin`, it must be this server's (`foreign_origin`).
//! - The sign-in form has no session yet: its CSRF token is a double-submit cookie
//!   (`jiralink_login`, `SameSite=Strict`, path `/login`) that must match the form field, so
//!   another site cannot sign a browser in to an account of its choosing.
//! - After signing in the browser goes to `next` only when it is a path of this server.

use std::net::SocketAddr;

use askama::Template;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jiralink_app::{Actor, AppError};
use jiralink_domain::AuditSource;
use jiralink_vault::{Password, SessionToken};
use rand::RngCore;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::app_status;
use crate::routes::RouteTable;
use crate::ui::{Page, error_page, render_with_status};

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "jiralink_session";
/// The sign-in form's double-submit CSRF cookie.
pub(crate) const LOGIN_COOKIE: &str = "jiralink_login";
/// The header scripts of a page send the CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// The form field forms send the CSRF token in.
pub(crate) const CSRF_FIELD: &str = "_csrf";
/// The largest form body the CSRF check reads.
const MAX_FORM_BYTES: usize = crate::MAX_BODY_BYTES;
/// Where a browser goes after signing in when no (acceptable) `next` is given.
const HOME: &str = "/connections";
/// How long the sign-in form stays usable.
const LOGIN_COOKIE_MAX_AGE_SECS: u32 = 3600;

/// The signed-in user of a request, put into its extensions by [`require_session`].
#[derive(Clone)]
pub(crate) struct CurrentUser {
    pub(crate) username: String,
    pub(crate) is_admin: bool,
    /// The session's CSRF token, for the hidden `_csrf` field of forms.
    pub(crate) csrf_token: String,
}

impl std::fmt::Debug for CurrentUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentUser")
            .field("username", &self.username)
            .field("is_admin", &self.is_admin)
            .finish_non_exhaustive()
    }
}

impl CurrentUser {
    /// Who the audit log names for this user's changes in the UI.
    pub(crate) fn actor(&self) -> Actor {
        Actor {
            name: self.username.clone(),
            source: AuditSource::Ui,
        }
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .ok_or_else(unauthorized)
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Sign in first: your session is missing or has ended.",
    )
        .into_response()
}

/// A form over [`MAX_FORM_BYTES`]: `413` with a page saying so.
fn form_too_large() -> Response {
    crate::ui::error_page(
        StatusCode::PAYLOAD_TOO_LARGE,
        crate::ui::Page::default(),
        "The form is too large (at most 1 MiB). Go back, and send it with less in it.",
    )
}

fn forbidden_csrf() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "The form's security token is missing or wrong. Reload the page and submit it again.",
    )
        .into_response()
}

pub(crate) fn table() -> RouteTable {
    vec![
        (Method::GET, "/login", get(login_page)),
        (Method::POST, "/login", post(login)),
        (Method::POST, "/logout", post(logout)),
    ]
}

/// The value of cookie `name`, if the request has it.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(n, v)| (n == name).then_some(v))
}

fn secure_attr(state: &AppState) -> &'static str {
    if state.app().config().server.base_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    }
}

fn set_cookie(res: &mut Response, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(v) => {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
        // Cannot happen: names and values are hex or fixed text.
        Err(e) => tracing::warn!(error = %e, "a cookie could not be set"),
    }
}

fn session_cookie(state: &AppState, token: &SessionToken, max_age: i64) -> String {
    format!(
        "{SESSION_COOKIE}={}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        token.expose(),
        secure_attr(state)
    )
}

fn clear_session_cookie(state: &AppState) -> String {
    format!(
        "{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{}",
        secure_attr(state)
    )
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn ct_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The signed-in user of a request with a valid session cookie.
pub(crate) async fn current_user(state: &AppState, headers: &HeaderMap) -> Option<CurrentUser> {
    let token = SessionToken::new(cookie(headers, SESSION_COOKIE)?);
    if token.is_empty() {
        return None;
    }
    match state.app().session(&token).await {
        Ok(info) => info.map(|i| CurrentUser {
            username: i.user.username,
            is_admin: i.user.is_admin,
            csrf_token: i.csrf_token,
        }),
        Err(e) => {
            tracing::error!(error = %e, "reading a session failed");
            None
        }
    }
}

/// Who a bearer key belongs to: the server's key, or a user's API key (named after its
/// user in the audit log). `None` when it is no valid key.
pub(crate) async fn api_actor(state: &AppState, key: &str) -> Option<Actor> {
    if state.api_key.accepts(state.app(), key).await {
        return Some(Actor {
            name: "api key".to_owned(),
            source: AuditSource::Api,
        });
    }
    match state.app().authenticate_api_key(key).await {
        Ok(user) => user.map(|u| Actor {
            name: u.username,
            source: AuditSource::Api,
        }),
        Err(e) => {
            tracing::error!(error = %e, "checking an API key failed");
            None
        }
    }
}

/// Sends requests without a valid session to the sign-in page (GET, HEAD) or answers 401;
/// checks the CSRF token of unsafe methods (403 when missing or wrong); puts the
/// [`CurrentUser`] into the request.
pub(crate) async fn require_session(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let Some(user) = current_user(&state, req.headers()).await else {
        if matches!(*req.method(), Method::GET | Method::HEAD) {
            let target = req
                .uri()
                .path_and_query()
                .map_or("/", axum::http::uri::PathAndQuery::as_str);
            return Redirect::to(&login_url(Some(target))).into_response();
        }
        return unauthorized();
    };
    let mut req = if is_safe(req.method()) {
        req
    } else {
        if foreign_origin(&state, req.headers()) {
            return forbidden_csrf();
        }
        match check_csrf(req, &user.csrf_token).await {
            Ok(req) => req,
            Err(res) => return res,
        }
    };
    req.extensions_mut().insert(user);
    next.run(req).await
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether an unsafe request names, in `Origin`, a page that is not this server's. Browsers
/// send `Origin` with every POST, PUT and DELETE, so a form another site (or a sibling host or
/// port) submits is refused even before its token is looked at. This server's origin is that of
/// the public base URL, or the `Host` the request was sent to (a browser sets both headers, a
/// page cannot). Without `Origin` (older clients, scripts) the CSRF token alone decides.
fn foreign_origin(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Some(origin) = origin.to_str().ok().and_then(|o| url::Url::parse(o).ok()) else {
        // `null` (a sandboxed frame, a redirect across sites) and garbage alike.
        return true;
    };
    let base = &state.app().config().server.base_url;
    if origin.origin() == base.origin() {
        return false;
    }
    let authority = match (origin.host_str(), origin.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => return true,
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    !host.is_some_and(|h| h.eq_ignore_ascii_case(&authority))
}

/// Passes the request on when its CSRF token (header, else form field) is `expected`.
async fn check_csrf(req: Request, expected: &str) -> Result<Request, Response> {
    if let Some(presented) = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return if ct_equal(presented, expected) {
            Ok(req)
        } else {
            Err(forbidden_csrf())
        };
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if let Some(boundary) = crate::ui::multipart::boundary(&content_type) {
        return check_multipart_csrf(req, expected, &boundary).await;
    }
    let is_form = content_type.split(';').next().is_some_and(|m| {
        m.trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    });
    if !is_form {
        return Err(forbidden_csrf());
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return Err(form_too_large());
    };
    let matches = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == CSRF_FIELD)
        .is_some_and(|(_, v)| ct_equal(&v, expected));
    if !matches {
        return Err(forbidden_csrf());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// A file upload (`multipart/form-data`, the import pages): the `_csrf` part, read from the
/// body, which is bounded by the upload limit.
async fn check_multipart_csrf(
    req: Request,
    expected: &str,
    boundary: &str,
) -> Result<Request, Response> {
    use crate::ui::multipart::{MAX_UPLOAD_BODY_BYTES, MAX_UPLOAD_BYTES, parse};
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_UPLOAD_BODY_BYTES).await else {
        return Err(crate::ui::error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            crate::ui::Page::default(),
            &format!(
                "The file is too large: an upload may have at most {} MiB. Go back, and split \
                 the file into smaller ones.",
                MAX_UPLOAD_BYTES >> 20
            ),
        ));
    };
    let matches = parse(&bytes, boundary).is_ok_and(|fields| {
        fields
            .iter()
            .find(|p| p.name == CSRF_FIELD && p.file_name.is_none())
            .is_some_and(|p| ct_equal(&p.text(), expected))
    });
    if !matches {
        return Err(forbidden_csrf());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// `next` when it is a path of this server: one leading `/`, no scheme or host, no
/// backslash (browsers read `/\host` as `//host`), no control characters.
pub(crate) fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && next.len() <= 2048;
    ok.then_some(next)
}

fn login_url(next: Option<&str>) -> String {
    match next.and_then(safe_next) {
        Some(n) => {
            let mut url = String::from("/login?next=");
            url.extend(url::form_urlencoded::byte_serialize(n.as_bytes()));
            url
        }
        _ => "/login".to_owned(),
    }
}

/// The client's IP address, which sign-in throttling keys on. `jiralink serve` runs the
/// router with `into_make_service_with_connect_info::<SocketAddr>`, which puts this
/// extension into every request; a router served without it counts all its clients as one.
fn client_address(req_ext: Option<&ConnectInfo<SocketAddr>>) -> String {
    req_ext.map_or_else(|| "unknown".to_owned(), |ci| ci.0.ip().to_string())
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginTemplate<'a> {
    csrf: String,
    next: Option<String>,
    username: String,
    error: Option<String>,
    demo: Option<&'a crate::DemoInfo>,
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// The sign-in page with a fresh double-submit token.
fn login_response(
    state: &AppState,
    status: StatusCode,
    next: Option<&str>,
    username: &str,
    error: Option<String>,
) -> Response {
    let csrf = random_token();
    let mut res = render_with_status(
        status,
        &LoginTemplate {
            csrf: csrf.clone(),
            next: next.and_then(safe_next).map(str::to_owned),
            username: username.to_owned(),
            error,
            demo: state.options().demo.as_ref(),
        },
    );
    set_cookie(
        &mut res,
        &format!(
            "{LOGIN_COOKIE}={csrf}; Path=/login; Max-Age={LOGIN_COOKIE_MAX_AGE_SECS}; HttpOnly; \
             SameSite=Strict{}",
            secure_attr(state)
        ),
    );
    res
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    if current_user(&state, &headers).await.is_some() {
        let to = q.next.as_deref().and_then(safe_next).unwrap_or(HOME);
        return Redirect::to(to).into_response();
    }
    login_response(&state, StatusCode::OK, q.next.as_deref(), "", None)
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
    next: Option<String>,
}

async fn login(State(state): State<AppState>, req: Request) -> Response {
    let address = client_address(req.extensions().get::<ConnectInfo<SocketAddr>>());
    let cookie_token = cookie(req.headers(), LOGIN_COOKIE).map(str::to_owned);
    let form = match axum::Form::<LoginForm>::from_request(req, &state).await {
        Ok(axum::Form(form)) => form,
        Err(rejection) => {
            let (status, error) = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "The sign-in form was too large; fill it in again.",
                )
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    "The sign-in form was incomplete; fill it in again.",
                )
            };
            return login_response(&state, status, None, "", Some(error.to_owned()));
        }
    };
    let LoginForm {
        username,
        password,
        csrf,
        next,
    } = form;
    let password = Password::from(password);
    let next = next.as_deref().and_then(safe_next);
    let token_ok = cookie_token
        .as_deref()
        .is_some_and(|c| !c.is_empty() && ct_equal(c, &csrf));
    if !token_ok {
        return login_response(
            &state,
            StatusCode::FORBIDDEN,
            next,
            &username,
            Some(
                "The sign-in form expired or cookies are blocked; allow cookies for this site \
                 and sign in again."
                    .to_owned(),
            ),
        );
    }
    match state.app().sign_in(&username, &password, &address).await {
        Ok(session) => {
            let max_age = (session.expires_at - state.app().now()).whole_seconds();
            let mut res = Redirect::to(next.unwrap_or(HOME)).into_response();
            set_cookie(&mut res, &session_cookie(&state, &session.token, max_age));
            set_cookie(
                &mut res,
                &format!(
                    "{LOGIN_COOKIE}=; Path=/login; Max-Age=0; HttpOnly; SameSite=Strict{}",
                    secure_attr(&state)
                ),
            );
            res
        }
        Err(e) => {
            let status = app_status(&e);
            let message = match &e {
                AppError::InvalidCredentials | AppError::SignInThrottled { .. } => {
                    crate::ui::user_message(&e)
                }
                _ => {
                    tracing::error!(error = %e, "signing in failed");
                    "jiralink could not sign you in because of an internal error; try again, \
                     and if it keeps failing, ask the administrator to check the server log"
                        .to_owned()
                }
            };
            login_response(&state, status, next, &username, Some(message))
        }
    }
}

async fn logout(State(state): State<AppState>, req: Request) -> Response {
    let headers = req.headers().clone();
    let Some(user) = current_user(&state, &headers).await else {
        let mut res = Redirect::to("/login").into_response();
        set_cookie(&mut res, &clear_session_cookie(&state));
        return res;
    };
    if foreign_origin(&state, &headers) {
        return forbidden_csrf();
    }
    if let Err(res) = check_csrf(req, &user.csrf_token).await {
        return res;
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = state.app().sign_out(&SessionToken::new(token)).await
    {
        tracing::error!(error = %e, "signing out failed");
        return error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            Page::default(),
            "jiralink could not end the session; try again.",
        );
    }
    let mut res = Redirect::to("/login").into_response();
    set_cookie(&mut res, &clear_session_cookie(&state));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_server_are_followed() {
        for ok in ["/connections", "/connections/1/edit?x=1#y", "/"] {
            assert_eq!(safe_next(ok), Some(ok));
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "evil.example",
            "javascript:alert(1)",
            "/a\nb",
            "",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_login_url_carries_next_encoded() {
        assert_eq!(
            login_url(Some("/connections/1/edit?a=1&b=2")),
            "/login?next=%2Fconnections%2F1%2Fedit%3Fa%3D1%26b%3D2"
        );
        assert_eq!(
            login_url(Some("/connections")),
            "/login?next=%2Fconnections"
        );
        assert_eq!(login_url(Some("//evil")), "/login");
        assert_eq!(login_url(None), "/login");
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("xjiralink_session=bad; jiralink_session=good; other=1"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("good"));
        assert_eq!(cookie(&headers, LOGIN_COOKIE), None);
    }

    #[test]
    fn current_user_debug_hides_the_csrf_token() {
        let user = CurrentUser {
            username: "alice".into(),
            is_admin: true,
            csrf_token: "CANARY-csrf".into(),
        };
        assert!(!format!("{user:?}").contains("CANARY"));
        assert_eq!(user.actor().source, AuditSource::Ui);
    }
}
