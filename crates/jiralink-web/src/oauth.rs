//! The route a browser comes back to after authorizing an OAuth 2.0 connection.
//!
//! Authorizations start only behind the API key (`POST /v1/connections/{id}/authorize`) or
//! from the CLI on the same data directory. `/connection/oauth2callback` hands the callback's
//! query to [`App::complete_authorization`](jiralink_app::App::complete_authorization), which
//! checks the single-use `state`; it answers with a self-contained page and never redirects,
//! whatever the query says.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiralink_app::{Actor, CallbackParams, GrantedSite};
use jiralink_domain::AuditSource;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(
        &format!("/{}", jiralink_domain::oauth_client::CALLBACK_PATH),
        get(callback),
    )
}

fn no_choice(_: &[GrantedSite]) -> Option<usize> {
    None
}

async fn callback(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params = CallbackParams::from_query(query.as_deref().unwrap_or_default());
    let actor = Actor {
        name: "browser".to_owned(),
        source: AuditSource::Ui,
    };
    match state
        .app
        .complete_authorization(&params, &no_choice, &actor)
        .await
    {
        Ok(o) => callback_page(
            StatusCode::OK,
            "Connection authorized",
            &format!(
                "The connection {} is authorized for {}. You can close this window.",
                o.connection, o.site_url
            ),
        ),
        Err(e) => {
            let status =
                StatusCode::from_u16(e.error_code().http_status).unwrap_or(StatusCode::BAD_REQUEST);
            callback_page(status, "Authorization failed", &e.to_string())
        }
    }
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
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
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
