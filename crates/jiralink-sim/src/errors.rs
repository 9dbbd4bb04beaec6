//! Error responses in the exact shapes Atlassian's services send, for every handler to reuse.
//!
//! | Family | Body | Helper |
//! |---|---|---|
//! | Jira platform (`/rest/api/*`) | `{"errorMessages":[…],"errors":{…}}` (`ErrorCollection`) | [`ApiError::platform`] |
//! | JSM (`/rest/servicedeskapi`) | `{"errorMessage":…,"i18nErrorMessage":{"i18nKey":…,"parameters":[]}}` | [`ApiError::jsm`] |
//! | CSM (`/jsm/csm/…/api/v1`) | `{"errors":[{"status":…,"code":…,"title":…,"detail":…}]}` (`RestError`) | [`ApiError::csm`] |
//! | OAuth token endpoint | `{"error":…,"error_description":…}` (RFC 6749 §5.2) | [`ApiError::oauth`] |
//! | API gateway (`api.atlassian.com`) | `{"code":401,"message":"Unauthorized"}` | [`ApiError::gateway`] |
//!
//! Handlers return `Result<impl IntoResponse, ApiError>`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Message Jira sends on the platform API when no or bad credentials were given.
pub const NOT_AUTHENTICATED: &str = "Client must be authenticated to access this resource.";
/// Message the gateway sends when a token's scopes do not fit the host or operation.
pub const SCOPE_MISMATCH: &str = "Unauthorized; scope does not match";
/// Body of the 410 for the removed `/search` family (CHANGE-2046).
pub const SEARCH_REMOVED: &str = "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046";

/// A ready-to-send error response.
#[derive(Debug)]
pub struct ApiError {
    response: Box<Response>,
}

impl ApiError {
    /// Wraps an already built response.
    pub fn from_response(response: Response) -> Self {
        Self {
            response: Box::new(response),
        }
    }

    /// Platform `ErrorCollection`.
    pub fn platform(status: StatusCode, messages: &[&str], errors: &[(&str, &str)]) -> Self {
        let errors: Map<String, Value> = errors
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect();
        json_response(
            status,
            &json!({ "errorMessages": messages, "errors": errors }),
        )
    }

    /// Platform 404 in Jira's wording.
    pub fn platform_not_found(what: &str) -> Self {
        let msg = format!("{what} does not exist or you do not have permission to see it.");
        Self::platform(StatusCode::NOT_FOUND, &[&msg], &[])
    }

    /// Platform 400 for a bad parameter.
    pub fn platform_bad_request(message: &str) -> Self {
        Self::platform(StatusCode::BAD_REQUEST, &[message], &[])
    }

    /// JSM error body.
    pub fn jsm(status: StatusCode, message: &str, i18n_key: &str) -> Self {
        json_response(
            status,
            &json!({
                "errorMessage": message,
                "i18nErrorMessage": { "i18nKey": i18n_key, "parameters": [] }
            }),
        )
    }

    /// CSM `RestError` body.
    pub fn csm(status: StatusCode, code: &str, detail: &str) -> Self {
        json_response(
            status,
            &json!({ "errors": [{
                "status": status.as_u16().to_string(),
                "code": code,
                "title": status.canonical_reason().unwrap_or("Error"),
                "detail": detail,
            }]}),
        )
    }

    /// OAuth 2.0 token-endpoint error (RFC 6749 §5.2 field names).
    pub fn oauth(status: StatusCode, error: &str, description: &str) -> Self {
        let mut e = json_response(
            status,
            &json!({ "error": error, "error_description": description }),
        );
        let headers = e.response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        e
    }

    /// Error from the API gateway itself (before the request reaches a product).
    pub fn gateway(status: StatusCode, message: &str) -> Self {
        json_response(
            status,
            &json!({ "code": status.as_u16(), "message": message }),
        )
    }

    /// 401 for missing or bad credentials on the platform API (site host).
    ///
    /// Jira Cloud answers with a plain-text body and an OAuth `WWW-Authenticate` challenge.
    pub fn not_authenticated(realm: &str) -> Self {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/plain;charset=UTF-8")],
            NOT_AUTHENTICATED,
        )
            .into_response();
        let challenge = format!("OAuth realm=\"{}\"", realm.replace('"', ""));
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        Self {
            response: Box::new(response),
        }
    }

    /// 401 when a scoped API token or bearer token is used where it is not accepted.
    pub fn scope_mismatch() -> Self {
        Self::gateway(StatusCode::UNAUTHORIZED, SCOPE_MISMATCH)
    }

    /// 403 when a scoped caller lacks every scope set the operation accepts.
    pub fn insufficient_scope(alternatives: &[Vec<String>]) -> Self {
        Self::platform(StatusCode::FORBIDDEN, &[&scope_message(alternatives)], &[])
    }

    /// [`ApiError::insufficient_scope`] in the JSM error shape, which JSM operations answer with.
    pub fn insufficient_scope_jsm(alternatives: &[Vec<String>]) -> Self {
        Self::jsm(
            StatusCode::FORBIDDEN,
            &scope_message(alternatives),
            "sd.oauth.scope.mismatch",
        )
    }

    /// [`ApiError::insufficient_scope`] as a CSM `RestError`.
    pub fn insufficient_scope_csm(alternatives: &[Vec<String>]) -> Self {
        Self::csm(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            &scope_message(alternatives),
        )
    }

    /// 410 for the removed `/rest/api/{2,3,latest}/search` family.
    pub fn search_removed() -> Self {
        Self::platform(StatusCode::GONE, &[SEARCH_REMOVED], &[])
    }

    /// 404 for an unknown site subdomain: Atlassian serves an HTML page, not JSON.
    pub fn site_not_found(subdomain: &str) -> Self {
        let safe: String = subdomain
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let body = format!(
            "<!DOCTYPE html><html><head><title>Site temporarily unavailable</title></head>\
             <body><h1>Site temporarily unavailable</h1>\
             <p>Your Atlassian Cloud site {safe} is currently unavailable.</p></body></html>"
        );
        Self {
            response: Box::new((StatusCode::NOT_FOUND, Html(body)).into_response()),
        }
    }

    /// 404 from the gateway for an unknown cloud id.
    pub fn cloud_id_not_found() -> Self {
        Self::gateway(StatusCode::NOT_FOUND, "Not Found")
    }

    /// Adds or replaces a response header.
    pub fn with_header(mut self, name: header::HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.response.headers_mut().insert(name, v);
        }
        self
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        self.response.status()
    }
}

fn scope_message(alternatives: &[Vec<String>]) -> String {
    let wanted: Vec<String> = alternatives.iter().map(|set| set.join(" ")).collect();
    format!(
        "Unauthorized; scope does not match. The token needs one of these scope sets: {}",
        wanted.join(" | ")
    )
}

fn json_response(status: StatusCode, body: &Value) -> ApiError {
    let response = (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response();
    ApiError {
        response: Box::new(response),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        *self.response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    async fn body_json(e: ApiError) -> Value {
        let bytes = to_bytes(e.into_response().into_body(), 1 << 20)
            .await
            .expect("body");
        serde_json::from_slice(&bytes).expect("json")
    }

    #[tokio::test]
    async fn removed_search_matches_atlassian_body() {
        let e = ApiError::search_removed();
        assert_eq!(e.status(), StatusCode::GONE);
        assert_eq!(
            body_json(e).await,
            json!({"errorMessages":[SEARCH_REMOVED],"errors":{}})
        );
    }

    #[tokio::test]
    async fn platform_error_collection_shape() {
        let e = ApiError::platform(StatusCode::BAD_REQUEST, &["a"], &[("summary", "required")]);
        assert_eq!(
            body_json(e).await,
            json!({"errorMessages":["a"],"errors":{"summary":"required"}})
        );
    }

    #[tokio::test]
    async fn oauth_error_is_not_cached() {
        let r = ApiError::oauth(StatusCode::FORBIDDEN, "invalid_grant", "x").into_response();
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    }

    #[test]
    fn site_not_found_escapes_subdomain() {
        let r = ApiError::site_not_found("<script>").into_response();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert!(
            r.headers()[header::CONTENT_TYPE]
                .to_str()
                .expect("ascii")
                .starts_with("text/html")
        );
    }
}
