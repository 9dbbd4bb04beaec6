//! The web UI: server-rendered pages for people signed in with a session.
//!
//! Every page route sits behind [`crate::session::require_session`]: without a session a GET
//! is sent to the sign-in page and anything else gets 401; unsafe methods also need the CSRF
//! token. Each module lists its routes in a [`RouteTable`] that both its router and the test
//! of that rule are built from. `/static/…` needs no
//! session and holds no data.
//!
//! Pages share:
//! - [`Page`]: the fields `templates/base.html` reads (`user`, `is_admin`, `csrf`,
//!   `notices`). A page struct either has those four fields or holds a `page: Page` and
//!   derefs to it.
//! - Notices ("flash" messages) survive one redirect in the short-lived cookie
//!   `jiralink_notice` (HttpOnly, SameSite=Lax, one minute): [`redirect_with_notice`] sets it
//!   on a 303, the next HTML page shows it through [`Flash`] and expires it. A cookie rather
//!   than a query parameter, so nobody can put words on jiralink's pages with a crafted link;
//!   the text is HTML-escaped like everything else the templates print.
//! - [`render`], [`error_page`] and [`app_error_page`] turn templates and errors into
//!   responses.

/// Lets templates read the base fields (`user`, `csrf`, …) of a page struct holding a `page`.
macro_rules! page_deref {
    ($($ty:ty),+) => {$(
        impl std::ops::Deref for $ty {
            type Target = $crate::ui::Page;
            fn deref(&self) -> &$crate::ui::Page {
                &self.page
            }
        }
    )+};
}
pub(crate) use page_deref;

pub(crate) mod assets;
mod chart;
mod exports;
mod flows;
mod form;
mod imports;
mod listeners;
pub(crate) mod multipart;
mod notifications;
mod oauth_clients;
mod pages;
mod users;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use jiralink_app::AppError;
use jiralink_domain::ConnectionState;

use crate::AppState;
use crate::error::app_status;
use crate::session::CurrentUser;

/// A UI module's routes: method, path and handler. [`crate::routes`] puts them all behind the
/// session, and the test that every route needs one walks the same table.
pub(crate) use crate::routes::RouteTable;

/// The routes of this module itself.
fn table() -> RouteTable {
    vec![(
        Method::GET,
        "/",
        get(|| async { Redirect::to("/connections") }),
    )]
}

/// Every table behind the session layer.
pub(crate) fn tables() -> [RouteTable; 10] {
    [
        table(),
        pages::table(),
        form::table(),
        exports::table(),
        imports::table(),
        flows::table(),
        notifications::table(),
        listeners::table(),
        oauth_clients::table(),
        users::table(),
    ]
}

/// The pages' router `pages` behind the session.
pub(crate) fn guard(pages: Router<AppState>, state: AppState) -> Router<AppState> {
    // The last layer added runs first: no notice is read or expired without a session.
    pages
        .route_layer(axum::middleware::from_fn(flash_layer))
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            crate::session::require_session,
        ))
}

/// What `templates/base.html` needs on every page.
#[derive(Clone, Default)]
pub(crate) struct Page {
    /// The signed-in user's name.
    pub(crate) user: Option<String>,
    pub(crate) is_admin: bool,
    /// The session's CSRF token, for the hidden `_csrf` field of every form.
    pub(crate) csrf: String,
    pub(crate) notices: Vec<String>,
}

// The CSRF token stays out of anything that formats a page (as out of `CurrentUser`'s).
impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("user", &self.user)
            .field("is_admin", &self.is_admin)
            .field("notices", &self.notices)
            .finish_non_exhaustive()
    }
}

impl Page {
    /// The base context of a signed-in user's page, with the notices carried over a redirect.
    pub(crate) fn new(user: &CurrentUser, flash: Flash) -> Self {
        Self {
            user: Some(user.username.clone()),
            is_admin: user.is_admin,
            csrf: user.csrf_token.clone(),
            notices: flash.0,
        }
    }
}

/// The label and badge class of a connection state, the same on every page that shows it.
pub(crate) fn state_badge(state: &ConnectionState) -> (&'static str, &'static str) {
    match state {
        ConnectionState::Online => ("Online", "badge-online"),
        ConnectionState::Offline { .. } => ("Offline", "badge-offline"),
        ConnectionState::Untested => ("Not tested", "badge-neutral"),
        ConnectionState::NeedsAuthorization => ("Needs authorization", "badge-warning"),
    }
}

/// The name of the cookie carrying notices over one redirect.
pub(crate) const NOTICE_COOKIE: &str = "jiralink_notice";

/// Notices are short; a cookie this size stays far below every browser's limit.
const NOTICE_MAX_BYTES: usize = 1500;

/// The notices the previous request left for this page (empty when none). Read from the
/// `jiralink_notice` cookie; the page that shows them expires the cookie.
#[derive(Debug, Clone, Default)]
pub(crate) struct Flash(pub(crate) Vec<String>);

impl<S: Send + Sync> FromRequestParts<S> for Flash {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Flash>()
            .cloned()
            .unwrap_or_else(|| Flash(read_notices(&parts.headers))))
    }
}

fn read_notices(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == NOTICE_COOKIE).then_some(value)
        })
        .flat_map(|value| url::form_urlencoded::parse(value.as_bytes()))
        .filter(|(key, value)| key == "n" && !value.trim().is_empty())
        .map(|(_, value)| value.into_owned())
        .collect()
}

/// Reads the notice cookie into [`Flash`] and expires it once an HTML page has shown it.
async fn flash_layer(mut req: Request, next: Next) -> Response {
    let notices = read_notices(req.headers());
    let had_notices = !notices.is_empty();
    req.extensions_mut().insert(Flash(notices));
    let mut res = next.run(req).await;
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let sets_notice = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with(NOTICE_COOKIE));
    if had_notices && is_html && !sets_notice {
        res.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_static("jiralink_notice=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"),
        );
    }
    res
}

/// Where "Run now" leads: the definition's page (`page`, when it could be read) with the
/// notice that a worker will run it, or the list (`list`) with why it did not start.
pub(crate) fn run_requested(
    state: &AppState,
    requested: jiralink_app::AppResult<()>,
    page: Option<&str>,
    list: &str,
    what: &str,
) -> Response {
    match requested {
        Ok(()) => redirect_with_notice(
            state,
            page.unwrap_or(list),
            "The run was requested: it starts within moments, on this server or another one.",
        ),
        Err(e) => redirect_with_notice(
            state,
            list,
            &format!("The {what} did not start: {}", user_message(&e)),
        ),
    }
}

/// A `303 See Other` to `to` (a path of this server) carrying `notice` to the next page.
pub(crate) fn redirect_with_notice(state: &AppState, to: &str, notice: &str) -> Response {
    let mut value = String::from("n=");
    value.extend(url::form_urlencoded::byte_serialize(
        truncate(notice, NOTICE_MAX_BYTES).as_bytes(),
    ));
    let secure = if state.app().config().server.base_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    let cookie =
        format!("{NOTICE_COOKIE}={value}; Path=/; Max-Age=60; HttpOnly; SameSite=Lax{secure}");
    let mut res = Redirect::to(to).into_response();
    match HeaderValue::from_str(&cookie) {
        Ok(v) => {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
        // Cannot happen: the value is percent-encoded. The redirect still works.
        Err(e) => tracing::warn!(error = %e, "notice cookie not set"),
    }
    res
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The template as a `200 OK` HTML page.
pub(crate) fn render<T: Template>(template: &T) -> Response {
    render_with_status(StatusCode::OK, template)
}

/// The template as an HTML page with `status`.
pub(crate) fn render_with_status<T: Template>(status: StatusCode, template: &T) -> Response {
    match template.render() {
        Ok(html) => html_response(status, html),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page failed");
            html_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
                 <title>jiralink: error</title></head><body><h1>Something went wrong</h1>\
                 <p>jiralink could not show this page. The server log has the details.</p>\
                 </body></html>"
                    .to_owned(),
            )
        }
    }
}

fn html_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        html,
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate {
    page: Page,
    title: String,
    message: String,
}

page_deref!(ErrorTemplate);

/// An HTML error page saying what went wrong and what to do, with a way back.
pub(crate) fn error_page(status: StatusCode, page: Page, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error").to_owned();
    render_with_status(
        status,
        &ErrorTemplate {
            page,
            title,
            message: message.to_owned(),
        },
    )
}

/// The HTML error page for an application error: its status and message, except that
/// internal failures are logged and shown without details.
pub(crate) fn app_error_page(page: Page, error: &AppError) -> Response {
    error_page(app_status(error), page, &user_message(error))
}

/// What a person is told about an application error.
pub(crate) fn user_message(error: &AppError) -> String {
    if error.code() == "internal" {
        tracing::error!(error = %error, "a UI request failed");
        return "jiralink could not complete the request because of an internal error; try \
                again, and if it keeps failing, ask the administrator to check the server log"
            .to_owned();
    }
    let mut message = error.to_string();
    if let Some(first) = message.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_formatted_shows_no_csrf_token() {
        let page = Page {
            user: Some("alice".to_owned()),
            csrf: "CANARY-csrf-token-3f9a0c1d2e".to_owned(),
            ..Page::default()
        };
        let shown = format!("{page:?} {page:#?}");
        assert!(shown.contains("alice"), "{shown}");
        assert!(!shown.contains("CANARY"), "{shown}");
    }

    #[test]
    fn every_state_has_one_badge() {
        let offline = ConnectionState::Offline {
            reason: "x".to_owned(),
        };
        assert_eq!(state_badge(&offline), ("Offline", "badge-offline"));
        assert_eq!(
            state_badge(&ConnectionState::Online),
            ("Online", "badge-online")
        );
        assert_eq!(
            state_badge(&ConnectionState::Untested),
            ("Not tested", "badge-neutral")
        );
        assert_eq!(
            state_badge(&ConnectionState::NeedsAuthorization),
            ("Needs authorization", "badge-warning")
        );
    }

    #[test]
    fn notices_are_read_from_the_cookie_only() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; jiralink_notice=n=Saved+%22x%22&n=second; b=2"),
        );
        assert_eq!(read_notices(&headers), vec!["Saved \"x\"", "second"]);
        assert!(read_notices(&HeaderMap::new()).is_empty());
    }

    #[test]
    fn long_notices_are_cut_at_a_character_boundary() {
        let text = "é".repeat(1000);
        let cut = truncate(&text, NOTICE_MAX_BYTES);
        assert!(cut.len() <= NOTICE_MAX_BYTES);
        assert_eq!(cut.len() % 2, 0);
        assert_eq!(truncate("short", 10), "short");
    }
}
