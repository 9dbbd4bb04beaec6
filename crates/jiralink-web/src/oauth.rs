//! The route a browser comes back to after authorizing an OAuth 2.0 connection.
//!
//! `/connection/oauth2callback` hands the callback's query to
//! [`App::complete_authorization`](jiralink_app::App::complete_authorization), which checks the
//! single-use `state`. What the browser gets next depends on who it is:
//! - signed in to jiralink (a valid session cookie; SameSite=Lax lets it ride along on
//!   Atlassian's redirect): a `303` to the connection's panel, `/connections/{id}/edit`, with
//!   `?authorized=1` or `?authorization_failed=<error code>`. The target is always built here
//!   from the connection's id, never taken from the query, so the callback cannot be turned
//!   into an open redirect. When the connection is unknown (a bad `state`), the plain page.
//! - not signed in (the authorization was started from the API or the CLI): a small
//!   self-contained page saying what happened.
//!
//! Either way the answer is `Referrer-Policy: no-referrer` and `no-store`: the URL holds the
//! authorization code. The audit log names the signed-in user, or "browser" without a session.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get};
use jiralink_app::{Actor, AppError, CallbackParams, GrantedSite};
use jiralink_domain::AuditSource;

use crate::AppState;

pub(crate) fn handler() -> MethodRouter<AppState> {
    get(callback)
}

fn no_choice(_: &[GrantedSite]) -> Option<usize> {
    None
}

/// The connection an authorization error is about, when the error names one.
fn failed_connection(error: &AppError) -> Option<&str> {
    match error {
        AppError::AuthorizationDenied { name, .. }
        | AppError::OAuthProviderUnavailable { name, .. }
        | AppError::OAuthProviderError { name, .. }
        | AppError::SiteNotGranted { name, .. }
        | AppError::SiteChoiceNeeded { name, .. } => Some(name),
        _ => None,
    }
}

/// The connection's panel with `query`, when the connection (still) exists.
async fn panel(state: &AppState, connection: &str, query: &str) -> Option<Response> {
    let found = state.app.find_connection(connection).await.ok()?;
    let mut res = Redirect::to(&format!("/connections/{}/edit?{query}", found.id)).into_response();
    set_private(res.headers_mut());
    Some(res)
}

async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = CallbackParams::from_query(query.as_deref().unwrap_or_default());
    let user = crate::session::current_user(&state, &headers).await;
    let actor = user.as_ref().map_or_else(
        || Actor {
            name: "browser".to_owned(),
            source: AuditSource::Ui,
        },
        crate::session::CurrentUser::actor,
    );
    match state
        .app
        .complete_authorization(&params, &no_choice, &actor)
        .await
    {
        Ok(o) => {
            if user.is_some()
                && let Some(res) = panel(&state, &o.connection, "authorized=1").await
            {
                return res;
            }
            callback_page(
                StatusCode::OK,
                "Connection authorized",
                &format!(
                    "The connection {} is authorized for {}. You can close this window.",
                    o.connection, o.site_url
                ),
            )
        }
        Err(e) => {
            if user.is_some()
                && let Some(name) = failed_connection(&e)
                && let Some(res) =
                    panel(&state, name, &format!("authorization_failed={}", e.code())).await
            {
                return res;
            }
            let status =
                StatusCode::from_u16(e.error_code().http_status).unwrap_or(StatusCode::BAD_REQUEST);
            callback_page(status, "Authorization failed", &e.to_string())
        }
    }
}

/// The callback's URL holds the authorization code: never send it on, never cache it.
fn set_private(h: &mut HeaderMap) {
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The small page answering an OAuth 2.0 callback: escaped text, no scripts, styles or
/// third-party assets, nothing cached, no referrer (the URL holds the code), no redirect.
pub fn callback_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>jiralink: {t}\
         </title></head><body><h1>{t}</h1><p>{m}</p></body></html>",
        t = escape(title),
        m = escape(message)
    );
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    set_private(h);
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; form-action 'none'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_and_sets_safe_headers() {
        let res = callback_page(StatusCode::OK, "<t>", "a & \"b\"");
        assert_eq!(res.headers()[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        assert!(
            res.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
        assert!(res.headers().get(header::LOCATION).is_none());
        assert_eq!(escape("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
    }
}
