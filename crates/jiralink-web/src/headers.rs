//! Security headers on every response.
//!
//! - `Content-Security-Policy`: scripts, styles and connections from jiralink only (no inline
//!   script or style), no framing, no `<base>`; forms post to jiralink and to the Atlassian
//!   authorization server, because "Save & authorize" answers a form POST with a redirect
//!   there and `form-action` also governs redirects after a submission. A route that set a
//!   stricter policy itself (the OAuth callback's page) keeps it.
//! - `X-Frame-Options: DENY` for browsers without `frame-ancestors`.
//! - `Referrer-Policy: same-origin`, unless the handler chose one (the OAuth callback sets
//!   `no-referrer`: its URL carries the authorization code).
//! - `Cross-Origin-Opener-Policy: same-origin` and a `Permissions-Policy` denying powerful
//!   features jiralink never uses.
//! - `Strict-Transport-Security` when the public base URL is https.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::Response;
use url::Url;

use crate::AppState;

const PERMISSIONS_POLICY: &str = "camera=(), microphone=(), geolocation=(), payment=(), usb=()";
/// One year, the value HSTS preload lists expect.
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// The CSP, allowing form submissions to `auth_server`'s origin besides jiralink itself.
pub(crate) fn content_security_policy(auth_server: &Url) -> String {
    let origin = auth_server.origin();
    let form_action = if origin.is_tuple() {
        format!(" {}", origin.ascii_serialization())
    } else {
        String::new()
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
         form-action 'self'{form_action}"
    )
}

pub(crate) async fn security_headers(State(state): State<AppState>, mut res: Response) -> Response {
    let config = state.app().config();
    let csp = content_security_policy(&config.atlassian.auth_server);
    let https = config.server.base_url.scheme() == "https";
    apply(res.headers_mut(), &csp, https);
    res
}

fn apply(h: &mut HeaderMap, csp: &str, https: bool) {
    // A route may have chosen a stricter policy (the OAuth callback's page allows nothing).
    match HeaderValue::from_str(csp) {
        Ok(v) => {
            h.entry(header::CONTENT_SECURITY_POLICY).or_insert(v);
        }
        // An origin is ASCII without control characters, so this cannot happen; fall back to
        // the strictest policy rather than none.
        Err(_) => {
            h.entry(header::CONTENT_SECURITY_POLICY)
                .or_insert(HeaderValue::from_static(
                    "default-src 'self'; frame-ancestors 'none'",
                ));
        }
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("same-origin"));
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(PERMISSIONS_POLICY),
    );
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_action_names_the_auth_server_origin_only() {
        let csp = content_security_policy(&Url::parse("https://auth.atlassian.com/x?y").unwrap());
        assert!(
            csp.ends_with("form-action 'self' https://auth.atlassian.com"),
            "{csp}"
        );
        let csp = content_security_policy(&Url::parse("http://127.0.0.1:4321/").unwrap());
        assert!(
            csp.ends_with("form-action 'self' http://127.0.0.1:4321"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self';"));
    }

    #[test]
    fn a_chosen_referrer_policy_is_kept_and_hsts_needs_https() {
        let mut h = HeaderMap::new();
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        apply(&mut h, "default-src 'self'", false);
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        assert!(!h.contains_key(header::STRICT_TRANSPORT_SECURITY));
        let mut h = HeaderMap::new();
        apply(&mut h, "default-src 'self'", true);
        assert_eq!(h[header::REFERRER_POLICY], "same-origin");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h["cross-origin-opener-policy"], "same-origin");
        assert!(h.contains_key("permissions-policy"));
        assert_eq!(h[header::STRICT_TRANSPORT_SECURITY], HSTS);
    }
}
